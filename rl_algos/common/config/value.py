"""`TeamQConfig`: the AlgorithmConfig shared by the off-policy value-based team learners (IQL, VDN, QMIX)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.networks.mixers import MIXER_INPUTS, MIXER_POOLINGS
from policies.networks.team_embedding import parse_embedding_spec
from policies.team_q_module import TeamQModule
from rl_algos.common.config.recurrent import RecurrentAgentOptions
from rl_algos.common.config.replay import ReplayOptions
from rl_algos.common.config.team import TeamAlgorithmConfig

MUNCHAUSEN_DEFAULTS = {"alpha": 0.9, "tau": 0.03, "l0": -1.0}
OPTIMIZERS = ("adam", "rmsprop")
REWARDS = ("team", "individual")


class TeamQConfig(TeamAlgorithmConfig):
    """Configuration of an off-policy value-based team learner on RLlib's new API stack.

    Set through `.training(...)` (besides RLlib's own `lr`, `gamma`, `grad_clip`, `train_batch_size_per_learner`):

    - `team_embedding`: the mixer's view of the team, `"concat"` | `"mean"` | `"graph"` or a dict such as
      `{"type": "graph", "conv": "gat", "layers": 2, "pool": "attention", "hidden": 64}`;
    - `mixer_input`: `"obs"` (the embedding of the agents' observations) or `"state"` (the global state, concat
      only); `mixing_embed_dim` (32), `hypernet_embed` (64): QMIX sizes; `hypernet_input_norm` (True): layer-normalise
      what the hypernetworks see (without it QMIX diverged on spread; `policies/networks/mixers.py`);
      `mixer_pooling` ("sum"): QMIX's first mixing layer sums the agents' weighted Qs (`"sum"`, QMIX's) or averages
      them over the present agents (`"mean"`: its input does not grow with the team); `mixer_q_norm` (False): QMIX
      mixes the agents' Qs divided by a running scale of their size and scales `Q_tot` back, so its first layer
      stays in ELU's working range as the values grow (`policies/networks/mixers.py`);
    - `hidden` ((64, 64)), `obs_agent_id` (True): the shared agent network; `recurrent` (False): a GRU agent
      of width `hidden[-1]`, trained on replayed sequences of `max_seq_len` (20) steps from the recurrent state
      stored with their first step, `train_batch_size_per_learner // max_seq_len` of them (at least one) per
      batch (needs `n_step=1`);
      `obs_last_action` (False): each agent also sees its previous action (needs the env option `last_action`);
    - `epsilon`: a constant or `[[env_step, value], ...]`, default 1.0 -> 0.05 over 50k env steps;
    - `td_lambda` (None: off): train on TD(lambda) returns (Peng's Q(lambda), pymarl2's `td_lambda`; its QMIX uses
      0.6) over replayed sequences of up to `max_seq_len` steps instead of on n-step transitions, batched as the
      recurrent agents' sequences (needs `n_step=1`);
    - `double_q` (True); `n_step` (1); `munchausen`: None or `{"alpha": 0.9, "tau": 0.03, "l0": -1}` (any
      subset; the Munchausen-DQN target per agent for IQL, on the mixed target for VDN/QMIX);
    - `reward`: `"team"` or, for IQL, `"individual"` (`infos["agent_rewards"]`, summed over the n steps);
    - `target_update_interval` (200 learner updates) and `tau` (1.0: hard copies; < 1: Polyak averaging at
      every interval); `train_batch_size_per_learner` (800) and `train_ratio` (0.04): EPyMARL's regime, one
      gradient step of 800 transitions per 25 env steps (smaller, more frequent steps made QMIX diverge sooner;
      see `__init__`);
    - `optimizer`: `"adam"` | `"rmsprop"`; the replay options (`ReplayOptions`: `train_ratio`,
      `learning_starts`, `replay_capacity`, ...) and, where the algorithm takes them, the recurrent agents'
      (`RecurrentAgentOptions`).
    """

    option_groups = (*TeamAlgorithmConfig.option_groups, ReplayOptions, RecurrentAgentOptions)
    mixer: str | None = None  # set by each algorithm's config: None (IQL), "vdn", "qmix"
    supports_td_lambda: bool = True  # whether the algorithm's loss takes TD(lambda) returns (`td_lambda`)

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.team_embedding: str | Mapping[str, Any] = "concat"
        self.mixer_input = "obs"
        self.mixing_embed_dim = 32
        self.hypernet_embed = 64
        self.hypernet_input_norm = True
        self.mixer_pooling = "sum"
        self.mixer_q_norm = False
        self.hidden: Sequence[int] = (64, 64)
        self.obs_agent_id = True
        self.obs_last_action = False
        self.epsilon: float | list = [[0, 1.0], [50_000, 0.05]]
        self.double_q = True
        self.td_lambda: float | None = None
        self.munchausen: Mapping[str, float] | None = None
        self.reward = "team"
        self.target_update_interval = 200
        self.tau = 1.0
        self.optimizer = "adam"
        # EPyMARL's update regime: 800 transitions (its 32 episodes of 25 steps) per gradient step, one step per 25
        # env steps, a hard target copy every 200 steps (5,000 env steps). Measured on spread N=3 (QMIX concat, seed
        # 0, synchronous; docs/convergence.md): with 64-transition steps at 0.25 per env step QMIX's Q of the
        # actions taken turned positive by ~75k env steps (every reward is negative), still by ~140k with target
        # copies as rare as here. The mixer carries the growing value scale in its hypernetworks' weights (sum |w2|
        # 7 -> 140 while the agents' Qs stay near -1.5), so its gain dQ_tot/dQ_a grows, and the max in the
        # bootstrapped target turns agent-Q noise into an overestimation that compounds. 800-transition steps at 0.25
        # per env step diverged sooner still (+409 at 72k): the steps per env step drive it, not gradient noise.
        # This regime delays the divergence (one run stable to 1M, one diverging from ~250k); it does not remove it:
        # normalising the hypernetworks' input does (`hypernet_input_norm`, policies/networks/mixers.py).
        self.train_batch_size_per_learner = 800
        self.train_ratio = 0.04

    def training(
        self,
        *,
        team_embedding: str | Mapping[str, Any] = NotProvided,
        mixer_input: str = NotProvided,
        mixing_embed_dim: int = NotProvided,
        hypernet_embed: int = NotProvided,
        hypernet_input_norm: bool = NotProvided,
        mixer_pooling: str = NotProvided,
        mixer_q_norm: bool = NotProvided,
        hidden: Sequence[int] = NotProvided,
        obs_agent_id: bool = NotProvided,
        obs_last_action: bool = NotProvided,
        epsilon: float | list = NotProvided,
        double_q: bool = NotProvided,
        td_lambda: float | None = NotProvided,
        munchausen: Mapping[str, float] | None = NotProvided,
        reward: str = NotProvided,
        optimizer: str = NotProvided,
        **kwargs,
    ) -> TeamQConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def munchausen_params(self) -> dict[str, float] | None:
        """`munchausen` with the defaults filled in, or None when off."""
        return None if self.munchausen is None else {**MUNCHAUSEN_DEFAULTS, **self.munchausen}

    @property
    def munchausen_tau(self) -> float | None:
        """The temperature of the Munchausen soft values the targets bootstrap from; None: no soft values."""
        params = self.munchausen_params
        return None if params is None else params["tau"]

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {
            "hidden": tuple(self.hidden),
            "obs_agent_id": self.obs_agent_id,
            "obs_last_action": self.obs_last_action,
            "epsilon": self.epsilon,
            "mixer": self.mixer,
            "team_embedding": self.team_embedding,
            "mixer_input": self.mixer_input,
            "mixing_embed_dim": self.mixing_embed_dim,
            "hypernet_embed": self.hypernet_embed,
            "hypernet_input_norm": self.hypernet_input_norm,
            "mixer_pooling": self.mixer_pooling,
            "mixer_q_norm": self.mixer_q_norm,
            "target_q_at_obs": self.munchausen_params is not None,
        }

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=TeamQModule)

    def replayed_sequence_length(self) -> int | None:
        return self.max_seq_len if self.recurrent_agents() or self.td_lambda is not None else None

    def replays_recurrent_state(self) -> bool:
        return self.recurrent_agents()

    def replay_agent_rewards(self) -> bool:
        return self.reward == "individual"

    def validate(self) -> None:
        super().validate()
        name = self.algo_name
        env_config = self.team_env_config()
        if env_config is not None and self.obs_last_action and not env_config.last_action:
            raise ValueError(
                "obs_last_action=True needs the env option last_action=True in env_config: the previous joint "
                "action travels in the observation, so replayed transitions carry it"
            )
        parse_embedding_spec(self.team_embedding)
        if self.mixer_input not in MIXER_INPUTS:
            raise ValueError(f"mixer_input={self.mixer_input!r} is unknown; use one of {', '.join(MIXER_INPUTS)}")
        if self.mixer_input == "state" and parse_embedding_spec(self.team_embedding)["type"] != "concat":
            raise ValueError(
                "mixer_input='state' feeds the flat global state to the hypernetworks, which has no agent axis to "
                "pool over; use team_embedding='concat' with it, or mixer_input='obs' for mean/graph embeddings"
            )
        if self.mixer_pooling not in MIXER_POOLINGS:
            raise ValueError(f"mixer_pooling={self.mixer_pooling!r} is unknown; use one of {', '.join(MIXER_POOLINGS)}")
        if not isinstance(self.mixer_q_norm, bool):
            raise ValueError(f"mixer_q_norm must be True or False, got {self.mixer_q_norm!r}")
        self._validate_munchausen()
        if self.reward not in REWARDS:
            raise ValueError(f"reward={self.reward!r} is unknown; use one of {', '.join(REWARDS)}")
        if self.reward == "individual" and self.mixer is not None:
            raise ValueError(
                f"reward='individual' is for IQL only; {name} learns a mixed team value from the team reward"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is unknown; use one of {', '.join(OPTIMIZERS)}")
        if self.recurrent_agents() and self.n_step != 1:
            raise ValueError(
                f"recurrent=True needs n_step=1 (got n_step={self.n_step}): recurrent agents train on replayed "
                "sequences of 1-step transitions"
            )
        self._validate_td_lambda()

    def _validate_td_lambda(self) -> None:
        if self.td_lambda is None:
            return
        if not self.supports_td_lambda:
            raise ValueError(f"{self.algo_name} does not train on TD(lambda) returns; use td_lambda=None")
        if (
            isinstance(self.td_lambda, bool)
            or not isinstance(self.td_lambda, int | float)
            or not 0 <= self.td_lambda <= 1
        ):
            raise ValueError(f"td_lambda must be None (off) or a number in [0, 1], got {self.td_lambda!r}")
        if self.n_step != 1:
            raise ValueError(
                f"td_lambda={self.td_lambda} needs n_step=1 (got n_step={self.n_step}): the lambda-return already "
                "sums the rewards along each replayed sequence; use one or the other"
            )

    def _validate_munchausen(self) -> None:
        if self.munchausen is None:
            return
        if not isinstance(self.munchausen, Mapping) or set(self.munchausen) - set(MUNCHAUSEN_DEFAULTS):
            raise ValueError(
                f"munchausen={self.munchausen!r} must be None or a dict with keys among "
                f"{', '.join(MUNCHAUSEN_DEFAULTS)} (defaults {MUNCHAUSEN_DEFAULTS})"
            )
        params = self.munchausen_params
        if not params["l0"] < 0:
            raise ValueError(
                f"munchausen l0={params['l0']} must be negative: it is the lower clip of tau * log pi, which is <= 0"
            )
        if not params["tau"] > 0:
            raise ValueError(f"munchausen tau={params['tau']} must be positive")
        if not 0 <= params["alpha"] <= 1:
            raise ValueError(f"munchausen alpha={params['alpha']} must be in [0, 1]")
