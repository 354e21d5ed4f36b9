"""`TeamAlgorithmConfig`: what every team algorithm's AlgorithmConfig does the same way, and the option groups
every algorithm takes (fine-tuning, the divergence guard)."""

from __future__ import annotations

import difflib
import inspect
import math
from typing import Any, ClassVar

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.util import log_once

import envs
from rl_algos.common.config.options import OptionGroup
from rl_algos.common.config.recurrent import RecurrentAgentOptions
from rl_algos.common.config.replay import ReplayOptions

FINETUNE_KL_AGAINST = ("self", "others")
FINETUNE_IDS = ("own", "reuse")
# RLlib's own `.training()` options (`lr`, `gamma`, `grad_clip`, `train_batch_size_per_learner`, ...).
RLLIB_TRAINING_OPTIONS = frozenset(inspect.signature(AlgorithmConfig.training).parameters) - {"self"}


class FineTuningOptions(OptionGroup):
    """The fine-tuning options every algorithm takes, its trust region and its agent ids:

    - `finetune_kl` (0.0, off): `beta`, the weight of `KL(pi_a || pi_ref_a)` over present agents, where `pi_ref` is
      the frozen pre-trained policy (`Algorithm.load_pretrained` sets it) and `pi` is the agents' softmax policy:
      `softmax(Q / finetune_kl_tau)` for the value learners, the actor's for the actor-critics (discrete actions);
    - `finetune_kl_steps` (0): env steps over which `beta` falls linearly to 0 (0: constant);
    - `finetune_kl_against` ("self"): the reference of agent a is the pre-trained policy with a's own id
      (`"self"`), or, for agents in slots `>= finetune_trained_slots` (ids the pre-trained team never had), with
      the id of a present agent in a trained slot (`"others"`); agents in trained slots are then not pulled;
    - `finetune_kl_tau` (1.0): the temperature of the value learners' softmax policies;
    - `finetune_trained_slots` (None): for `"others"` and `finetune_ids="reuse"`, how many leading slots the
      pre-training team sat in;
    - `finetune_ids` ("own"): the one-hot id each slot's agent acts (and learns) with: its own, or (`"reuse"`) for
      slots `>= finetune_trained_slots` that of slot `k mod finetune_trained_slots`, the ids the pre-trained team
      trained. A team pre-trained in fewer slots never trained the first-layer weights of the other ids, so with
      its own ids the fine-tuning run would start from a policy worse than the zero-shot one it is compared with
      (`evaluate(..., agent_ids="reuse")`); with `"reuse"` it starts from exactly that policy, and its checkpoints
      act with those ids wherever they are evaluated. Nothing changes for networks without agent ids.
    """

    title = "fine-tuning (trust region, agent ids)"
    defaults: ClassVar[dict[str, Any]] = {
        "finetune_kl": 0.0,
        "finetune_kl_steps": 0,
        "finetune_kl_against": "self",
        "finetune_kl_tau": 1.0,
        "finetune_trained_slots": None,
        "finetune_ids": "own",
    }

    @classmethod
    def model_config(cls, config: TeamAlgorithmConfig) -> dict[str, Any]:
        reused = config.finetune_trained_slots if config.finetune_ids == "reuse" else None
        return {"pretrained_reference": config.finetune_kl > 0, "reused_id_slots": reused}

    @classmethod
    def validate(cls, config: TeamAlgorithmConfig) -> None:
        if isinstance(config.finetune_kl, bool) or not isinstance(config.finetune_kl, int | float):
            raise ValueError(f"finetune_kl must be a number >= 0 (0 = off), got {config.finetune_kl!r}")
        if config.finetune_kl < 0:
            raise ValueError(f"finetune_kl must be a number >= 0 (0 = off), got {config.finetune_kl!r}")
        steps = config.finetune_kl_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"finetune_kl_steps must be an int >= 0 (0 = no annealing), got {steps!r}")
        if config.finetune_kl_against not in FINETUNE_KL_AGAINST:
            raise ValueError(
                f"finetune_kl_against={config.finetune_kl_against!r} is unknown; use one of "
                f"{', '.join(FINETUNE_KL_AGAINST)}"
            )
        if not config.finetune_kl_tau > 0:
            raise ValueError(f"finetune_kl_tau must be positive, got {config.finetune_kl_tau}")
        env_config = config.team_env_config()
        n_max = env_config.n_max if env_config is not None else None
        if config.finetune_ids not in FINETUNE_IDS:
            raise ValueError(f"finetune_ids={config.finetune_ids!r} is unknown; use one of {', '.join(FINETUNE_IDS)}")
        if config.finetune_ids == "reuse":
            cls._check_trained_slots(config, "finetune_ids='reuse'", n_max, untrained_needed=False)
        if not config.finetune_kl:
            return
        if env_config is not None and env_config.continuous_actions:
            raise ValueError(
                f"finetune_kl compares softmax policies, but {config.algo_name} acts with continuous actions here; "
                "fine-tune without it (finetune_kl=0, e.g. the conservative strategy)"
            )
        if config.recurrent_agents():
            raise ValueError(
                "finetune_kl is not available for recurrent agents (recurrent=True); use the MLP agent, or "
                "finetune_kl=0"
            )
        if config.finetune_kl_against == "others":
            if not getattr(config, "obs_agent_id", False):
                raise ValueError(
                    "finetune_kl_against='others' asks the pre-trained network with another agent's id, which needs "
                    "obs_agent_id=True; or use finetune_kl_against='self'"
                )
            cls._check_trained_slots(config, "finetune_kl_against='others'", n_max, untrained_needed=True)

    @staticmethod
    def _check_trained_slots(
        config: TeamAlgorithmConfig, option: str, n_max: int | None, untrained_needed: bool
    ) -> None:
        """`finetune_trained_slots` is an int in [1, n_max] (below n_max where `option` needs an untrained slot)."""
        trained = config.finetune_trained_slots
        if isinstance(trained, bool) or not isinstance(trained, int) or trained < 1:
            raise ValueError(
                f"{option} needs finetune_trained_slots, the number of leading slots the pre-training team sat in "
                f"(an int >= 1), got {trained!r}"
            )
        if n_max is not None and trained > n_max:
            raise ValueError(f"finetune_trained_slots={trained} is above n_max={n_max}; give at most {n_max}")
        if untrained_needed and n_max is not None and trained == n_max:
            raise ValueError(
                f"finetune_trained_slots={trained} leaves no untrained slot below n_max={n_max}: 'others' pulls "
                "agents in untrained slots toward trained ones; use finetune_kl_against='self'"
            )


class DivergenceGuardOptions(OptionGroup):
    """The divergence guard every algorithm takes (`rl_algos.common.loops.divergence`): `value_bound_margin` (0.5;
    0 turns it off) stops a run with `ValueDivergenceError` once a learner's value estimates leave the range of
    returns the team rewards sampled so far allow, `[min(r_min, 0), max(r_max, 0)] / (1 - gamma)`, by more than
    that many times its width."""

    title = "the divergence guard"
    defaults: ClassVar[dict[str, Any]] = {"value_bound_margin": 0.5}

    @classmethod
    def validate(cls, config: TeamAlgorithmConfig) -> None:
        margin = config.value_bound_margin
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not margin >= 0:
            raise ValueError(
                f"value_bound_margin must be a number >= 0 (the divergence guard's margin; 0 = off), got {margin!r}"
            )


class TeamAlgorithmConfig(AlgorithmConfig):
    """Base of the team algorithms' configs: RLlib's shared defaults (`lr` 5e-4, `gamma` 0.99, `grad_clip` 10 by
    global norm, `train_batch_size_per_learner` 64, `rollout_fragment_length` 50, `num_envs_per_env_runner` 8),
    `training()` keyword handling, the team env's action checks, and the option groups.

    An algorithm's config sets `name` (its key in `rl_algos.ALGORITHMS`), lists the option groups it takes in
    `option_groups` (every algorithm takes `FineTuningOptions` and `DivergenceGuardOptions`), says whether it
    acts in Box action spaces (`continuous_actions`), and declares its own options in its `training()` signature.
    `.training()` sets a group's options like any other; an option of a group the algorithm does not take, or one no
    one declares, stops there with what to use instead.
    """

    name: ClassVar[str | None] = None
    option_groups: ClassVar[tuple[type[OptionGroup], ...]] = (FineTuningOptions, DivergenceGuardOptions)
    continuous_actions: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[TeamAlgorithmConfig]]] = {}  # name -> config class, filled as they are defined

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            TeamAlgorithmConfig.registry[cls.name] = cls

    @classmethod
    def algorithms_taking(cls, group: type[OptionGroup]) -> list[str]:
        """The names of the algorithms whose configs list `group`."""
        return sorted(name for name, config in cls.registry.items() if group in config.option_groups)

    @classmethod
    def continuous_action_algorithms(cls) -> list[str]:
        """The names of the algorithms that act in Box action spaces."""
        return sorted(name for name, config in cls.registry.items() if config.continuous_actions)

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        # The team env creator builds its own vector env from `num_envs` (`envs.make_team_vector_env`): VMAS tasks step
        # all their worlds in one call, PettingZoo scenarios become gymnasium's SyncVectorEnv as under "sync".
        self.gym_env_vectorize_mode = "vector_entry_point"
        # The team modules emit env-ready actions (discrete, or already scaled onto the Box's bounds), so RLlib's
        # unsquash/clip connector, a deep copy and a per-world loop at every step, has nothing to do.
        self.normalize_actions = False
        self.clip_actions = False
        # RLlib's own settings, with the team learners' defaults (the on-policy actor-critics raise lr and the batch).
        self.lr = 5e-4
        self.gamma = 0.99
        self.grad_clip = 10.0
        self.grad_clip_by = "global_norm"
        self.train_batch_size_per_learner = 64
        self.rollout_fragment_length = 50
        # Several envs per runner amortise RLlib's per-step connector and module overhead (measured: one env
        # samples at ~0.3x the raw spread env's steps/s, eight at ~0.5x; benchmarks/bench_throughput.py).
        self.num_envs_per_env_runner = 8
        self.min_sample_timesteps_per_iteration = 1000
        for group in self.option_groups:
            group.set_defaults(self)

    def training(self, **kwargs: Any) -> TeamAlgorithmConfig:
        """RLlib's `training()` plus the options of the groups this algorithm takes (each subclass's own options
        are its `training()` arguments)."""
        groups = {name: group for group in self.option_groups for name in group.defaults}
        unknown = sorted(set(kwargs) - groups.keys() - RLLIB_TRAINING_OPTIONS)
        if unknown:
            raise ValueError(self._unknown_option_message(unknown[0]))
        for name in groups.keys() & kwargs.keys():
            value = kwargs.pop(name)
            if value is not NotProvided:
                setattr(self, name, value)
        super().training(**kwargs)
        return self

    def _unknown_option_message(self, option: str) -> str:
        owner = OptionGroup.owning(option)
        if owner is not None:
            return (
                f"{self.algo_name} has no option {option!r}: it does not take {owner.title}; the algorithms that do: "
                f"{', '.join(self.algorithms_taking(owner))}"
            )
        known = set(RLLIB_TRAINING_OPTIONS) | {name for group in self.option_groups for name in group.defaults}
        for config_class in type(self).__mro__:
            if "training" in config_class.__dict__:
                known |= set(inspect.signature(config_class.training).parameters) - {"self", "kwargs"}
        close = difflib.get_close_matches(option, sorted(known), n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; its options: {', '.join(sorted(known))}"
        return f"{self.algo_name} has no training option {option!r}{hint}"

    def takes(self, group: type[OptionGroup]) -> bool:
        """Whether this algorithm takes the options of `group`."""
        return group in self.option_groups

    def recurrent_agents(self) -> bool:
        """Whether the agents' shared network is recurrent (`recurrent=True`, for the algorithms that take it)."""
        return self.takes(RecurrentAgentOptions) and self.recurrent

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        included = super()._model_config_auto_includes
        for group in self.option_groups:
            included = included | group.model_config(self)
        return included

    def validate(self) -> None:
        # The team algorithms run on RLlib's new API stack only: consume RLlib's once-per-algorithm "you are running
        # <algo> on the new API stack" warning, which otherwise precedes even a one-line error.
        log_once(f"{self.algo_name}_on_new_api_stack")
        super().validate()
        self._validate_rllib_training_options()
        if not self.continuous_actions:
            self.require_discrete_actions(f"{', '.join(self.continuous_action_algorithms())} for continuous actions")
        for group in self.option_groups:
            group.validate(self)

    def _validate_rllib_training_options(self) -> None:
        """RLlib's own training options every team learner uses, by type and range (RLlib accepts a negative `lr`,
        which trains by gradient ascent, and a `gamma` above 1)."""
        lr = self.lr
        if not isinstance(lr, (list, tuple)) and not _is_number(lr, low=0.0, strict=True):
            raise ValueError(f"lr must be a number > 0 (or an RLlib schedule [[step, lr], ...]), got {lr!r}")
        if not _is_number(self.gamma, low=0.0) or not self.gamma < 1:
            raise ValueError(
                f"gamma must be a number in [0, 1), got {self.gamma!r} (the divergence guard bounds returns by "
                "r / (1 - gamma))"
            )
        if self.grad_clip is not None and not _is_number(self.grad_clip, low=0.0, strict=True):
            raise ValueError(f"grad_clip must be a number > 0 or None (no clipping), got {self.grad_clip!r}")
        batch = self.train_batch_size_per_learner
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"train_batch_size_per_learner must be an int >= 1, got {batch!r}")

    def validate_target_updates(self) -> None:
        """Check the target networks' update options (`TeamLearner`): `target_update_interval`, gradient steps
        between two updates, and `tau`, the step toward the online network (1.0: a hard copy)."""
        interval = self.target_update_interval
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"target_update_interval must be an int >= 1, got {interval!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1] (1.0 = hard target copies), got {self.tau}")

    def _set_provided(self, arguments: dict[str, Any]) -> None:
        """Set every keyword argument of a `training()` call (its `locals()`) that was actually provided."""
        for name, value in arguments.items():
            if name in ("self", "kwargs", "__class__") or value is NotProvided:
                continue
            setattr(self, name, value)

    def learning_warmup(self) -> int:
        """Env steps a run samples before its first update: the replay learners' `learning_starts` (counted
        afresh by every run into an empty replay, fine-tuning included); 0 when on-policy."""
        return self.learning_starts if self.takes(ReplayOptions) else 0

    def replayed_sequence_length(self) -> int | None:
        """The replay learners: the length of the replayed sequences the learner trains on (recurrent agents,
        TD(lambda) returns); None: n-step transitions."""
        return None

    def replays_recurrent_state(self) -> bool:
        """The replay learners: whether the replay keeps the recurrent state before each observation."""
        return False

    def replay_agent_rewards(self) -> bool:
        """The replay learners: whether the learner needs each agent's own rewards (`infos["agent_rewards"]`)."""
        return False

    @property
    def algo_name(self) -> str:
        return self.algo_class.__name__ if self.algo_class else type(self).__name__

    def team_env_config(self) -> envs.TeamEnvConfig | None:
        """The parsed team env config, or None when the env is not the team env."""
        return envs.parse_env_config(**self.env_config) if self.env == envs.TEAM_ENV_NAME else None

    def require_discrete_actions(self, alternative: str = "") -> None:
        """Reject a team env with continuous actions, saying which scenarios have discrete ones (and, if given,
        `alternative`: what else handles continuous actions)."""
        env_config = self.team_env_config()
        if env_config is not None and env_config.continuous_actions:
            raise ValueError(
                f"{self.algo_name} needs discrete actions, but scenario {env_config.scenario.name!r} is configured "
                "with continuous actions; use a discrete scenario (spread, pursuit, matrix) or continuous_actions=False"
                + (f", or {alternative}" if alternative else "")
            )


def _is_number(value: Any, low: float, strict: bool = False) -> bool:
    """Whether `value` is a finite int or float (not a bool) above `low` (`strict`) or at least `low`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value > low if strict else value >= low
