"""The lower-bound check: how far a learner's predicted team value of the actions taken sits above the discounted
return that actually followed, along greedy episodes (greedy unmixing's claim: at or below zero where QMIX
overestimates). The value learners predict with their (mixed) Qs; the replay actor-critics (MADDPG, Central-V SAC)
with their critics, and with `unmix` also with each agent's own critic."""

from __future__ import annotations

import numpy as np
import torch
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from policies.maddpg_module import TeamMADDPGModule
from policies.sac_module import TeamSACModule
from policies.team_q_module import TeamQModule
from rl_algos.common.actor_critic_losses import rollout_returns
from rl_algos.common.losses import chosen_action_values

CRITIC_MODULES = (TeamMADDPGModule, TeamSACModule)


def has_q_bias(module: RLModule) -> bool:
    """Whether `episode_q_bias` can read a team value off the module: a value learner's or a replay actor-critic's."""
    return isinstance(module, (TeamQModule, *CRITIC_MODULES))


def mean_over_present(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per step, the mean over present agents: values, mask [T, n_max] -> [T]."""
    return (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)


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
    return mean_over_present(q_taken, obs["mask"])


@torch.no_grad()
def predicted_critic_values(
    module: TeamMADDPGModule | TeamSACModule, obs: dict[str, torch.Tensor], actions: torch.Tensor
) -> dict[str, torch.Tensor]:
    """A replay actor-critic's values of the joint actions taken along one episode, `[T]` each, as means over present
    agents: `"q_bias"` from the twin critics' minimum `min_i Q_i(s, u)_a` (what their targets bootstrap from) and,
    with `unmix`, `"q_bias_ind"` from each agent's own critic `Q_ind(o_a, id_a, u_a)`. Central-V SAC's critics learn
    the soft return, the policy's entropy bonus included."""
    if isinstance(module, TeamMADDPGModule):
        vectors = module.action_vectors(actions)
        q1, q2 = module.twin_q(obs, vectors)  # [T, n_max]
        independent = module.independent_q(obs, vectors) if module.critic_ind is not None else None
    else:
        q1, q2 = module.twin_q(obs, actions)  # [T, n_max, A] (discrete: one per own action) or [T, n_max]
        independent = module.independent_q(obs, actions) if module.critic_ind is not None else None
        if module.discrete:
            q1, q2 = chosen_action_values(q1, actions), chosen_action_values(q2, actions)
            independent = None if independent is None else chosen_action_values(independent, actions)
    per_agent = {"q_bias": torch.minimum(q1, q2)}  # [T, n_max]
    if independent is not None:
        per_agent["q_bias_ind"] = independent
    return {key: mean_over_present(values, obs["mask"]) for key, values in per_agent.items()}


# q_bias = mean_t [ Q(s_t, u_t) - G_t ] over one episode's steps: > 0 overestimates the return obtained.
def episode_q_bias(module: RLModule, episode: SingleAgentEpisode, gamma: float) -> dict[str, float]:
    """The q_bias of one played episode (its observations, actions and team rewards): `{"q_bias": ...}`, and
    `"q_bias_ind"` for the independent critic of an actor-critic with `unmix`."""
    observations = episode.get_observations()
    steps = len(episode)
    device = next(module.parameters()).device
    obs = {key: torch.as_tensor(np.asarray(value)[:steps], device=device) for key, value in observations.items()}
    actions = torch.as_tensor(np.asarray(episode.get_actions()), device=device)  # [T, n_max] or [T, n_max, k]
    if isinstance(module, CRITIC_MODULES):
        predicted = predicted_critic_values(module, obs, actions)
    else:
        predicted = {"q_bias": predicted_team_values(module, obs, actions)}
    returns = discounted_returns_to_go(np.asarray(episode.get_rewards(), np.float64), gamma)  # [T]
    return {key: float((values.double().cpu().numpy() - returns).mean()) for key, values in predicted.items()}
