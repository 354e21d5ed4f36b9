"""The defaults a measurement chose per scenario, which the transfer experiment and the convergence benchmark set on
a config unless the user's `.training()` options set them: the discount, the value learners' exploration schedule,
VDN's Munchausen targets."""

from __future__ import annotations

from typing import Any

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

from rl_algos.common.config.value import TeamQConfig
from rl_algos.gum import GUMConfig
from rl_algos.maddpg import MADDPGConfig
from rl_algos.vdn import VDNConfig

# The value learners' epsilon falls from 1 to 0.05 over this fraction of the trial's budget (`--timesteps`, for a
# fine-tuning trial `--finetune-timesteps`), unless `--training` sets `epsilon`: a fixed 50,000 env steps explores
# through half of a 100k run but 5% of a 1M one, and a 100k fine-tuning trial from a 1M run explores as a 100k run.
EXPLORATION_FRACTION = 0.1
# The discount per algorithm family on scenarios where a measurement chose one, unless `--training` sets `gamma`
# (elsewhere RLlib's 0.99). Spread's episodes last 25 steps: at 0.99 a value counts about 100 steps of holding on
# past the time limit, and the few tenths of return that separate the moves near a landmark are under 1% of it, so
# the regression's noise picks among them (the agents' action gap, `benchmarks/bench_heuristic_gap.py`).
# - The value learners (IQL, VDN, QMIX, gum): at 0.95 (MADDPG's MPE setting, a horizon of about the episode) QMIX
#   concat reached 0.95 of the heuristic's gain at 1M env steps over three seeds (0.88 zero-shot at 6) against 0.87
#   at 0.99, QMIX graph 0.95 against 0.89, and VDN 0.85 against 0.81 (docs/convergence.md, "The discount").
# - MADDPG, whose actor climbs its bootstrapped critic: on vmas:spread at 0.99 the critic overvalued the greedy joint
#   action (`q_bias` +125 at 100k) and the curve fell from its best point (0.46 at 800k, 0.31 at 1M); at 0.95
#   `q_bias` stayed within -16.2..+4.7, 0.57 at 3 and 0.63 zero-shot at 6 over three seeds, every end within its
#   best point's interval (docs/convergence.md, "MADDPG at `gamma` 0.95"). Spread takes it too: the twin has its
#   episodes and rewards.
# - gum on the twin too (a config takes its most specific family's table): on spread 0.78 at 3 and 0.75 zero-shot
#   at 6 over three seeds at 0.95, 0.41 / 0.49 at 0.99 (500k); on vmas:spread, three seeds at 1M, 0.77 / 0.72 at 0.95
#   (results/convergence/gum_gamma_095_twin) against the transfer study's 0.62 / 0.60 at 0.99 (docs/results.md).
#   QMIX reaches 0.90-0.92 on the twin at 0.99, so the other value learners keep it there (0.95 is not measured).
# The on-policy actor-critics keep 0.99: MAPPO graph on vmas:spread gained nothing at 0.95 (0.72 against 0.74).
SCENARIO_GAMMA: dict[type[AlgorithmConfig], dict[str, float]] = {
    GUMConfig: {"spread": 0.95, "vmas:spread": 0.95},
    TeamQConfig: {"spread": 0.95},
    MADDPGConfig: {"spread": 0.95, "vmas:spread": 0.95},
}
# VDN's Munchausen targets on scenarios where a measurement chose them, unless `--training` sets `munchausen`. On
# spread VDN loses while holding the landmarks, where its moves are 2% of their value apart; Munchausen-DQN's
# `alpha tau log pi` reward term (Vieillard et al. 2020) widens that action gap: over three seeds at 1M env steps
# (`gamma` 0.95) 0.90 of the heuristic's gain at 3 against 0.85 without, 0.84 zero-shot at 6 against 0.78
# (docs/convergence.md, "Munchausen targets for VDN"). QMIX passes without them and was not measured with them.
VDN_MUNCHAUSEN = {"spread": {}}


def measured_defaults(config: AlgorithmConfig, training: dict[str, Any], timesteps: int) -> None:
    """What the transfer experiment and the convergence benchmark set unless `training` (the user's `.training()`
    options) sets it: the scenario's discount for the config's most specific family (`SCENARIO_GAMMA`) and, for a
    value learner (`TeamQConfig`), epsilon annealed over `EXPLORATION_FRACTION` of the `timesteps` budget
    (`budget_epsilon`) and, for VDN, its Munchausen targets (`VDN_MUNCHAUSEN`)."""
    scenario = config.env_config["scenario"]
    gammas = next((SCENARIO_GAMMA[family] for family in type(config).__mro__ if family in SCENARIO_GAMMA), {})
    if "gamma" not in training and scenario in gammas:
        config.training(gamma=gammas[scenario])
    if not isinstance(config, TeamQConfig):
        return
    if "epsilon" not in training:
        config.training(epsilon=budget_epsilon(timesteps))
    if "munchausen" not in training and isinstance(config, VDNConfig) and scenario in VDN_MUNCHAUSEN:
        config.training(munchausen=VDN_MUNCHAUSEN[scenario])


def budget_epsilon(timesteps: int) -> list[list[float]]:
    """The value learners' epsilon schedule for a `timesteps` training budget: 1.0 -> 0.05 over
    `EXPLORATION_FRACTION` of it."""
    return [[0, 1.0], [max(1, int(EXPLORATION_FRACTION * timesteps)), 0.05]]
