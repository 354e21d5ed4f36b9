"""The lower-bound check: how far a learner's predicted team value of the actions taken sits above the discounted
return that actually followed, along greedy episodes (greedy unmixing's claim: at or below zero where QMIX
overestimates). Each module says what it predicts through `team_value(obs, actions)`: the value learners their
(mixed) Qs, the replay actor-critics (MADDPG, Central-V SAC) their critics, and with `unmix` also each agent's own
critic."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rl_algos.common.actor_critic_losses import rollout_returns

# a module's `team_value` keys -> the evaluation's names
Q_BIAS_NAMES = {"team": "q_bias", "independent": "q_bias_ind"}


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


# q_bias = mean_t [ Q(s_t, u_t) - G_t ] over one episode's steps: > 0 overestimates the return obtained.
def episode_q_bias(module: RLModule, episode: SingleAgentEpisode, gamma: float) -> dict[str, float]:
    """The q_bias of one played episode (its observations, actions and team rewards) for each of the module's team
    values: `{"q_bias": ...}`, and `"q_bias_ind"` for the independent critic of an actor-critic with `unmix`."""
    observations = episode.get_observations()
    steps = len(episode)
    device = next(module.parameters()).device
    obs = {key: torch.as_tensor(np.asarray(value)[:steps], device=device) for key, value in observations.items()}
    actions = torch.as_tensor(np.asarray(episode.get_actions()), device=device)  # [T, n_max] or [T, n_max, k]
    predicted = module.team_value(obs, actions)
    returns = discounted_returns_to_go(np.asarray(episode.get_rewards(), np.float64), gamma)  # [T]
    return {
        Q_BIAS_NAMES[key]: float((values.double().cpu().numpy() - returns).mean()) for key, values in predicted.items()
    }
