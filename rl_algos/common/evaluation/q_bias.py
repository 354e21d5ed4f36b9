"""The lower-bound check: how far a learner's predicted team value of the actions taken sits above the discounted
return that actually followed, along greedy episodes (greedy unmixing's claim: at or below zero where QMIX
overestimates). Each module says what it predicts through `team_value(obs, actions)`: the value learners their
(mixed) Qs, the replay actor-critics (MADDPG, Central-V SAC) their critics, and with `unmix` also each agent's own
critic."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
from ray.rllib.core.rl_module.rl_module import RLModule

from rl_algos.common.losses.actor_critic import rollout_returns

# a module's `team_value` keys -> the evaluation's names; each also relative to the return's scale (`_rel`)
Q_BIAS_NAMES = {"team": "q_bias", "independent": "q_bias_ind"}
RELATIVE = "_rel"
# the per-episode means an evaluation gives of each, where the module has that estimate
Q_BIAS_MEANS = tuple(f"{name}{kind}_mean" for name in Q_BIAS_NAMES.values() for kind in ("", RELATIVE))
TAIL_TOLERANCE = 0.01  # the discount weight of the return left out past a carried-on episode's end


def has_q_bias(module: RLModule) -> bool:
    """Whether the module predicts a team value of the joint actions taken (`team_value(obs, actions)`): the value
    learners and the replay actor-critics do; the on-policy ones value states, not actions."""
    return callable(getattr(module, "team_value", None))


# G_t = sum_{k=0}^{T-1-t} gamma^k r_{t+k}: the return that followed step t, to the episode's end (no bootstrap):
# A2C's `rollout_returns` with no cut, no termination and zero bootstrap values.
def discounted_returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """`G_t` [T] of the rewards [T]."""
    rewards = torch.as_tensor(np.asarray(rewards, np.float64))
    zeros = torch.zeros_like(rewards)
    return rollout_returns(rewards, zeros, zeros, zeros, gamma).numpy()


def carried_on_steps(time_limit: int, gamma: float, tolerance: float = TAIL_TOLERANCE) -> int:
    """The length to play an episode to past its time limit so that the discounted return left out weighs at most
    `tolerance`: `time_limit + extra` with `gamma ** extra <= tolerance`."""
    return time_limit + math.ceil(math.log(tolerance) / math.log(gamma)) if gamma < 1 else time_limit


# q_bias = mean_t [ Q(s_t, u_t) - G_t ] over the first `steps` steps of one episode: > 0 overestimates the return.
# The learners bootstrap at the time limit (a truncation), so their Qs value carrying on past it: G_t is taken over
# an episode played on past the limit (`carried_on_steps`), not cut at it, which reads a large overestimation as an
# underestimation (QMIX at 100k env steps on spread: -8.7 against the return to the limit, +113.2 against the return
# carried on; benchmarks/bench_q_bias_horizon.py, results/convergence/q_bias_horizon/).
# q_bias_rel = q_bias / mean_t |G_t|: the same gap in units of the return's own size. Returns-to-go, and with them
# q_bias, grow with the discount (about 1 / (1 - gamma) steps of reward), so learners at different discounts compare
# on q_bias_rel, not on q_bias.
def episode_q_bias(
    module: RLModule,
    observations: Mapping[str, np.ndarray],
    actions: np.ndarray,
    rewards: np.ndarray,
    gamma: float,
    steps: int | None = None,
    reward_scale: float = 1.0,
) -> dict[str, float]:
    """The q_bias of one played episode (its team `observations` per key `[T(+1), ...]`, joint `actions` `[T, ...]`
    and team `rewards` `[T]`) over its first `steps` states (all of them with None), each state's return-to-go taken
    to the episode's end, for each of the module's team values, read in the env's reward units (divided by the
    `reward_scale` the module was trained with): `{"q_bias": ..., "q_bias_rel": ...}`, and
    `"q_bias_ind"`, `"q_bias_ind_rel"` for an independent estimate (gum's agents, an actor-critic's own critics with
    `unmix`); the relative ones are NaN where every return-to-go is 0."""
    steps = len(rewards) if steps is None else min(steps, len(rewards))
    device = next(module.parameters()).device
    obs = {key: torch.as_tensor(np.asarray(value)[:steps], device=device) for key, value in observations.items()}
    taken = torch.as_tensor(np.asarray(actions)[:steps], device=device)  # [T, n_max] or [T, n_max, k]
    predicted = module.team_value(obs, taken)
    returns = discounted_returns_to_go(np.asarray(rewards, np.float64), gamma)[:steps]  # [T]
    return_scale = float(np.abs(returns).mean())
    figures = {}
    for key, values in predicted.items():
        gap = float((values.double().cpu().numpy() / reward_scale - returns).mean())
        figures[Q_BIAS_NAMES[key]] = gap
        figures[Q_BIAS_NAMES[key] + RELATIVE] = gap / return_scale if return_scale > 0 else math.nan
    return figures
