"""`TeamActorCriticConfig`: the AlgorithmConfig shared by the actor-critic team learners (IAC, Central-V, COMA)."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.actor_critic_module import TeamActorCriticModule
from rl_algos.common.config.networks import ActorCriticNetworkOptions
from rl_algos.common.config.recurrent import RecurrentAgentOptions
from rl_algos.common.config.team import TeamAlgorithmConfig
from rl_algos.common.loops.rollout_env_runner import TeamEnvRunner

# Env steps each env (VMAS world) gives a batch at least, when the batch follows the envs (`cover_every_env`).
MIN_ROLLOUT_STEPS = 10


class TeamActorCriticConfig(TeamAlgorithmConfig):
    """Configuration of an on-policy actor-critic team learner on RLlib's new API stack.

    Set through `.training(...)` (besides RLlib's own `lr` 2e-3, `gamma` 0.99, `grad_clip` 10,
    `train_batch_size_per_learner` 100, the env steps of fresh rollouts per update, and the network options of
    `ActorCriticNetworkOptions`):

    - `entropy_coeff` (0.01): weight of the policy-entropy bonus; `vf_coeff` (0.5): weight of the critic loss;
      `normalize_advantages` (True): advantages to mean 0, std 1 over each batch's present agents;
    - `shared_experience` (0.0, off; SEAC uses 1.0): `lambda`, the weight of each agent's losses on the other
      agents' experience, weighted by the clipped importance ratio `min(pi_a(u_b | o_b) / pi_b(u_b | o_b),
      shared_experience_clip)` (1.0) (Christianos et al. 2020); per-agent critics only (`iac`);
    - `recurrent` (False), `max_seq_len` (20): a GRU actor (`RecurrentAgentOptions`), unrolled over pieces of up to
      `max_seq_len` steps of each rollout from the state it acted from at their first step (the critics stay MLPs
      over each step's observations); not with `shared_experience`;
    - `actor_output_scale` (1.0): the actor's output layer starts at PyTorch's default initialisation times this
      factor, its bias at 0; 0.01 starts from an almost uniform (discrete) or centred (continuous) policy, as the
      MAPPO and CleanRL PPO implementations do (Andrychowicz et al. 2021 found it among PPO's most important details);
    - `array_rollouts` (True): the env runners (`TeamEnvRunner`) sample the batch as arrays straight from the vector
      env and the learner takes it as a ready batch, skipping RLlib's per-env episode objects and learner connectors
      (the same steps, laid out the same way); False samples RLlib's episodes. A recurrent actor always samples
      episodes (RLlib's connectors cut them into sequences with their recurrent states);
    - `base` ("a2c"): the only base of the on-policy learners; the off-policy variants are algorithms of their own
      (`central_v_sac`, `iac_awac`), and their former spellings (`base="sac"`, `base="awac"`) say so.
    """

    option_groups = (*TeamAlgorithmConfig.option_groups, ActorCriticNetworkOptions, RecurrentAgentOptions)
    continuous_actions = True  # A2C's learner handles Box actions (COMA's and LICA's do not)
    critic: str = "team"  # set by each algorithm's config: "agent" (IAC), "team" (Central-V), "coma", "lica"
    # Off-policy variants that became algorithms of their own: the former `base` -> the algorithm to use instead.
    moved_bases: dict[str, str] = {}  # noqa: RUF012 (read-only)

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class)
        self.entropy_coeff = 0.01
        self.vf_coeff = 0.5
        self.normalize_advantages = True
        self.base = "a2c"
        self.shared_experience = 0.0
        self.shared_experience_clip = 1.0
        self.actor_output_scale = 1.0
        self.array_rollouts = True
        self.env_runner_cls = TeamEnvRunner
        # Measured on spread N=3: one 400-step batch per update at lr 5e-4 left the critic far from its targets
        # after 60k env steps (entropy still at its maximum); 100-step batches at 2e-3 learn within 50k.
        self.lr = 2e-3
        self.train_batch_size_per_learner = 100
        self.rollout_fragment_length = "auto"

    def training(
        self,
        *,
        entropy_coeff: float = NotProvided,
        vf_coeff: float = NotProvided,
        normalize_advantages: bool = NotProvided,
        base: str = NotProvided,
        shared_experience: float = NotProvided,
        shared_experience_clip: float = NotProvided,
        actor_output_scale: float = NotProvided,
        array_rollouts: bool = NotProvided,
        **kwargs,
    ) -> TeamActorCriticConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        return super()._model_config_auto_includes | {
            "critic": self.critic,
            "actor_output_scale": self.actor_output_scale,
        }

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=TeamActorCriticModule)

    def cover_every_env(self, steps_per_env: int = MIN_ROLLOUT_STEPS) -> TeamActorCriticConfig:
        """Raise `train_batch_size_per_learner` so each env of each env runner gives the batch at least
        `steps_per_env` steps. The A2C default of 100 env steps spread over 64 VMAS worlds is a rollout of one or
        two steps per world, returns that are almost all bootstrap: IAC on `vmas:spread` learned to -64.5 in 400k
        env steps and then diverged, where 10-step rollouts (640 steps a batch) reached -42 by 800k."""
        envs = self.num_envs_per_env_runner * max(1, self.num_env_runners)
        self.train_batch_size_per_learner = max(self.train_batch_size_per_learner, steps_per_env * envs)
        return self

    def uses_array_rollouts(self) -> bool:
        """Whether the loop samples arrays (`TeamEnvRunner.sample_rollout`) rather than RLlib's episodes."""
        return self.array_rollouts and not self.recurrent

    def validate(self) -> None:
        super().validate()
        if self.base in self.moved_bases:
            algorithm = self.moved_bases[self.base]
            raise ValueError(
                f"the {self.base} base is now its own algorithm: use rl_algos.get_config({algorithm!r}) "
                f"(--algo / --algos {algorithm} in the scripts) and drop base={self.base!r}"
            )
        if self.base != "a2c":
            raise ValueError(f"base={self.base!r} is unknown; {self.algo_name} trains on-policy with A2C (base='a2c')")
        if not self.shared_experience >= 0 or not self.shared_experience_clip > 0:
            raise ValueError(
                f"shared_experience ({self.shared_experience}) must be >= 0 (0 = off) and shared_experience_clip "
                f"({self.shared_experience_clip}) > 0"
            )
        if self.shared_experience and self.critic != "agent":
            raise ValueError(
                f"shared_experience (SEAC) trains each agent's policy and per-agent critic on the others' experience; "
                f"{self.algo_name} has a {self.critic!r} critic. Use iac, or shared_experience=0"
            )
        if self.shared_experience and self.recurrent:
            raise ValueError(
                "shared_experience (SEAC) evaluates each agent's policy on the others' observations one step at a "
                "time, which a recurrent actor cannot do; use recurrent=False with it, or shared_experience=0"
            )
        if isinstance(self.actor_output_scale, bool) or not (
            isinstance(self.actor_output_scale, int | float) and self.actor_output_scale > 0
        ):
            raise ValueError(
                f"actor_output_scale must be a number > 0 (1.0: PyTorch's default init; 0.01: MAPPO's near-uniform "
                f"initial policy), got {self.actor_output_scale!r}"
            )
        if not isinstance(self.array_rollouts, bool):
            raise TypeError(f"array_rollouts must be True or False, got {self.array_rollouts!r}")
        if self.uses_array_rollouts() and not issubclass(self.env_runner_cls, TeamEnvRunner):
            raise ValueError(
                f"array_rollouts samples with TeamEnvRunner.sample_rollout, but env_runner_cls is "
                f"{self.env_runner_cls.__name__}; subclass TeamEnvRunner, or set array_rollouts=False"
            )
        if self.entropy_coeff < 0 or self.vf_coeff <= 0:
            raise ValueError(
                f"entropy_coeff must be >= 0 and vf_coeff > 0, got entropy_coeff={self.entropy_coeff}, "
                f"vf_coeff={self.vf_coeff}"
            )
