"""The lower-bound check of the value learners: how far the predicted team value of the actions taken sits above the
discounted return that actually followed, along greedy episodes (greedy unmixing's claim: at or below zero where
QMIX overestimates)."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from policies.team_q_module import TeamQModule
from rl_algos.common.actor_critic_losses import rollout_returns
from rl_algos.common.losses import chosen_action_values


# G_t = sum_{k=0}^{T-1-t} gamma^k r_{t+k}: the return that followed step t, to the episode's end (no bootstrap):
# A2C's `rollout_returns` with no cut, no termination and zero bootstrap values.
def discounted_returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """`G_t` [T] of the rewards [T]."""
    rewards = torch.as_tensor(np.asarray(rewards, np.float64))
    zeros = torch.zeros_like(rewards)
    return rollout_returns(rewards, zeros, zeros, zeros, gamma).numpy()


@torch.no_grad()
def predicted_team_values(module: TeamQModule, obs: dict[str, torch.Tensor], actions: torch.Tensor) -> torch.Tensor:
    """The module's value of the joint actions taken along one episode, `[T]`: the mixer's `Q_tot(s_t, u_t)` (VDN,
    QMIX, gum's mixed value), or without a mixer (IQL) the mean over present agents of `Q_a(o_a, u_a)`. A recurrent
    agent runs over the episode from its initial state."""
    if module.recurrent:
        initial = {"h": module.get_initial_state()["h"][None]}
        q, _ = module.agent_q(module.agent, {key: value[None] for key, value in obs.items()}, initial)
        q = q[0]  # [T, n_max, A]
    else:
        q, _ = module.agent_q(module.agent, obs)  # [T, n_max, A]
    q_taken = chosen_action_values(q, actions)  # [T, n_max]
    if module.mixer is not None:
        return module.mix(q_taken, obs)
    mask = obs["mask"]  # [T, n_max]
    return (q_taken * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


# q_bias = mean_t [ Q_tot(s_t, u_t) - G_t ] over one episode's steps: > 0 overestimates the return obtained.
def episode_q_bias(module: TeamQModule, episode: SingleAgentEpisode, gamma: float) -> float:
    """The q_bias of one played episode (its observations, actions and team rewards)."""
    observations = episode.get_observations()
    steps = len(episode)
    device = next(module.parameters()).device
    obs = {key: torch.as_tensor(np.asarray(value)[:steps], device=device) for key, value in observations.items()}
    actions = torch.as_tensor(np.asarray(episode.get_actions()), device=device)  # [T, n_max]
    predicted = predicted_team_values(module, obs, actions).double().cpu().numpy()  # [T]
    returns = discounted_returns_to_go(np.asarray(episode.get_rewards(), np.float64), gamma)  # [T]
    return float((predicted - returns).mean())
