"""Greedy unmixing (`gum`): learn when to trust the mixed Q and when the independent Qs, by comparing each
estimator with a conservative lower bound under the cloned behaviour policy."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import NotProvided
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from policies.gum_module import GUMModule
from policies.networks.behaviour import BEHAVIOUR_MODELS
from policies.networks.mixers import MIXERS
from rl_algos.common.config.recurrent import RecurrentAgentOptions
from rl_algos.common.config.unmixing import UnmixingOptions
from rl_algos.common.config.value import MUNCHAUSEN_DEFAULTS, TeamQConfig
from rl_algos.common.loops.off_policy import OffPolicyTeamAlgorithm
from rl_algos.common.losses.value import UNMIX
from rl_algos.gum.learner import GUMLearner

SWITCHES = {
    "mixer": MIXERS,
    "behaviour_model": BEHAVIOUR_MODELS,
    "cql_mu": ("logsumexp", "greedy"),
    "regulariser": ("munchausen", "kl", "none"),
    "regularise_against": ("others", "self"),
    "mixed_gap_grad": ("all", "agents"),
    "mixer_agent_input": ("q", "centred"),
}


class GUMConfig(TeamQConfig):
    """Greedy unmixing. Besides `TeamQConfig`'s options, `.training(...)` takes (defaults first):

    - `mixer`: "qmix" | "vdn", the mixed estimator `Q_mix = mixer(Q_1..Q_N, s)` (over `team_embedding`);
    - `behaviour_model`: "bc" | "vae", the cloned behaviour policy `beta(u | o_a, id_a)`;
    - `cql_mu`: "logsumexp" | "greedy", the `mu(Q_a)` of the independent gap; `beta_samples` (4): joint
      actions drawn from beta for the mixed gap; `cql_alpha` (0.1, in reward units; 0 turns conservatism off);
    - `unmix` ("inverse" here; `UnmixingOptions`): "inverse" | "direct" | "lagrange", how the estimators are
      weighted, or the ablations "independent" | "pooled", one estimator's loss alone (the mixed one for "pooled":
      with everything else of gum kept, what the weighting adds); `unmix_eps` (1e-3) in the inverse weights;
      `target_gap` (1.0) for lagrange;
    - `mixed_gap_grad`: "all" | "agents", what the mixed gap's penalty trains: the mixer and, through it, the
      agents' Qs ("all"), or the agents' Qs only, the mixer's parameters held fixed in the gap ("agents"). With
      "all" the penalty could shrink `gap_mix` by flattening the mixer (its first layer's ELUs below their knee,
      where `Q_mix` stops depending on the agents) rather than by lowering the Qs of the actions the behaviour does
      not take; at 6 agents on spread the mixer went blind either way (docs/gum.md, "At larger teams");
    - `mixer_agent_input`: "q" | "centred", what the mixer mixes of each agent: its Q of the action (`Q_a(u_a)`), or
      that Q less the mean of its Qs over the actions (`Q_a(u_a) - mean_u Q_a(u)`: the same greedy action, so a
      monotonic mixer still picks the agents' own, but free of the level the independent estimator gives every Q,
      the team's return, which at 6 agents saturates the mixer; docs/gum.md, "What slows gum at 6");
    - `regulariser`: "munchausen" | "kl" | "none", against `regularise_against`: "others" | "self";
      `kl_coef` (0.1); the Munchausen constants (alpha 0.9, tau 0.03, l0 -1, also kl's tau) from `munchausen`.
    """

    name = "gum"
    # MLP agents only: the behaviour model and the gaps are per transition
    option_groups = (*(g for g in TeamQConfig.option_groups if g is not RecurrentAgentOptions), UnmixingOptions)
    supports_td_lambda = False  # its targets are per transition too

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or GUM)
        self.mixer = "qmix"
        self.behaviour_model = "bc"
        self.cql_mu = "logsumexp"
        self.beta_samples = 4
        self.unmix = "inverse"
        # The conservative penalty is in reward units: `TD + cql_alpha * gap` is least where the greedy action's Q sits
        # cql_alpha / 2 below its target and the behaviour's cql_alpha / 2 above, so an action keeps its rank only if
        # it beats the behaviour's by more than cql_alpha. On spread that margin is 0.2-0.8 (the mixed gap with
        # cql_alpha 0): the unmixing configs' 1.0 flattened the per-agent Qs (gap_ind at log A exactly) and gum's
        # greedy return fell from -52.7 (100k) to -60.7 (400k); every cell at 0.1 or 0 of the 500k sweep kept
        # learning (docs/gum.md, "At a real budget: what held gum back").
        self.cql_alpha = 0.1
        self.regulariser = "munchausen"
        self.regularise_against = "others"
        self.kl_coef = 0.1
        self.mixed_gap_grad = "all"
        self.mixer_agent_input = "q"

    def training(
        self,
        *,
        mixer: str = NotProvided,
        behaviour_model: str = NotProvided,
        cql_mu: str = NotProvided,
        beta_samples: int = NotProvided,
        regulariser: str = NotProvided,
        regularise_against: str = NotProvided,
        kl_coef: float = NotProvided,
        mixed_gap_grad: str = NotProvided,
        mixer_agent_input: str = NotProvided,
        **kwargs,
    ) -> GUMConfig:
        super().training(**kwargs)
        self._set_provided(locals())
        return self

    @property
    def regulariser_params(self) -> dict[str, float]:
        """The Munchausen constants (alpha, tau, l0) with the defaults filled in; kl uses their tau."""
        return {**MUNCHAUSEN_DEFAULTS, **(self.munchausen or {})}

    @property
    def munchausen_params(self) -> dict[str, float] | None:
        return self.regulariser_params if self.regulariser == "munchausen" else None

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        # the regulariser's reference policy needs the target network's Qs at the observations
        return super()._model_config_auto_includes | {
            "behaviour_model": self.behaviour_model,
            "target_q_at_obs": True,
            "mixer_agent_input": self.mixer_agent_input,
        }

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=GUMModule)

    def get_default_learner_class(self):
        return GUMLearner

    def validate(self) -> None:
        super().validate()
        for name, known in SWITCHES.items():
            if getattr(self, name) not in known:
                raise ValueError(f"{name}={getattr(self, name)!r} is unknown; use one of {', '.join(known)}")
        if self.reward != "team":
            raise ValueError("gum learns both estimators from the team reward; use reward='team'")
        if self.regularise_against == "others" and not self.obs_agent_id:
            raise ValueError(
                "regularise_against='others' asks the shared network with another agent's id, which needs "
                "obs_agent_id=True; or use regularise_against='self'"
            )
        if not isinstance(self.beta_samples, int) or self.beta_samples < 1:
            raise ValueError(f"beta_samples must be an int >= 1, got {self.beta_samples!r}")
        if self.unmix is None:
            raise ValueError(
                f"gum always weighs its estimators: unmix must be one of {', '.join(UNMIX)}; for the mixed estimator "
                "alone with gum's penalty and regulariser use unmix='pooled', without them qmix"
            )
        if self.kl_coef < 0:
            raise ValueError(f"kl_coef must be >= 0, got {self.kl_coef}")


class GUM(OffPolicyTeamAlgorithm):
    """Greedy unmixing for a parameter-shared team."""

    @classmethod
    def get_default_config(cls) -> GUMConfig:
        return GUMConfig()
