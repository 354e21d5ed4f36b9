"""MADDPG: joint-action critics (unshared with concat, pooled otherwise), the module's actions, short runs."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from policies.maddpg_module import TeamMADDPGModule
from policies.networks.team_critics import JointActionCritic
from rl_algos.common import evaluate

N_MAX, OBS_DIM, N_ACTIONS = 4, 3, 5


def _obs(batch: int, n_present: int) -> dict:
    mask = torch.zeros(batch, N_MAX)
    mask[:, :n_present] = 1.0
    return {"obs": torch.randn(batch, N_MAX, OBS_DIM) * mask.unsqueeze(-1), "mask": mask}


def test_concat_critic_keeps_one_unshared_critic_per_agent():
    torch.manual_seed(0)
    critic = JointActionCritic(OBS_DIM, N_ACTIONS, N_MAX, "concat", hidden=(8,))
    assert len(critic.heads) == N_MAX
    obs, actions = _obs(6, 4), torch.randn(6, N_MAX, N_ACTIONS)
    before = critic(obs["obs"], actions, obs["mask"])
    with torch.no_grad():
        for p in critic.heads[1].parameters():
            p.add_(1.0)
    after = critic(obs["obs"], actions, obs["mask"])
    assert before.shape == (6, N_MAX)
    assert torch.allclose(before[:, [0, 2, 3]], after[:, [0, 2, 3]]) and not torch.allclose(before[:, 1], after[:, 1])


@pytest.mark.parametrize("embedding", ["mean", "graph"])
def test_pooled_critic_is_shared_and_permutation_equivariant_over_present_agents(embedding):
    torch.manual_seed(0)
    critic = JointActionCritic(OBS_DIM, N_ACTIONS, N_MAX, embedding, hidden=(8,), obs_agent_id=False)
    obs, actions = _obs(6, 3), torch.randn(6, N_MAX, N_ACTIONS)
    permutation = torch.tensor([2, 0, 1, 3])
    q = critic(obs["obs"], actions, obs["mask"])
    q_permuted = critic(obs["obs"][:, permutation], actions[:, permutation], obs["mask"][:, permutation])
    assert torch.allclose(q_permuted, q[:, permutation], atol=1e-5)
    changed = actions.clone()
    changed[:, 3] += 5.0  # an absent agent's action
    assert torch.allclose(critic(obs["obs"], changed, obs["mask"])[:, :3], q[:, :3], atol=1e-5)


def _spaces(action_space):
    return dict(
        observation_space=gym.spaces.Dict(
            obs=gym.spaces.Box(-np.inf, np.inf, (N_MAX, OBS_DIM), np.float32),
            mask=gym.spaces.Box(0, 1, (N_MAX,), np.float32),
            state=gym.spaces.Box(-np.inf, np.inf, (N_MAX * OBS_DIM,), np.float32),
        ),
        action_space=action_space,
    )


def test_module_actions_leave_absent_agents_idle_and_stay_in_bounds():
    torch.manual_seed(0)
    obs = _obs(32, 2)
    discrete = TeamMADDPGModule(
        **_spaces(gym.spaces.MultiDiscrete([N_ACTIONS] * N_MAX)),
        model_config=rl_algos.get_config("maddpg").model_config,
    )
    inputs = discrete.forward_exploration({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    sampled = discrete.get_exploration_action_dist_cls().from_logits(inputs).sample()
    assert torch.equal(sampled[:, 2:], torch.zeros_like(sampled[:, 2:]))

    box = gym.spaces.Box(-1.0, 1.0, (N_MAX, 2), np.float32)
    continuous = TeamMADDPGModule(
        **_spaces(box), model_config=rl_algos.get_config("maddpg").model_config | {"exploration_noise": 5.0}
    )
    actions = continuous.forward_exploration({Columns.OBS: obs})[Columns.ACTIONS]
    assert actions.shape == (32, N_MAX, 2) and actions.abs().max() <= 1.0
    assert torch.equal(actions[:, 2:], torch.zeros(32, 2, 2))
    greedy = continuous.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
    assert not torch.allclose(greedy[:, :2], actions[:, :2]), "exploration adds noise to the greedy actions"


@pytest.mark.parametrize(
    "env_config",
    [
        {"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10},
        {"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 20},
    ],
    ids=["spread-discrete", "multiwalker-continuous"],
)
@pytest.mark.parametrize("embedding", ["concat", "graph"])
def test_maddpg_trains_checkpoints_and_evaluates_at_a_larger_team(env_config, embedding, ray_session, tmp_path):
    config = (
        rl_algos.get_config("maddpg")
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2, rollout_fragment_length=20)
        .training(team_embedding=embedding, learning_starts=80, train_ratio=0.1)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    for _ in range(3):
        result = trainer.train()
    learner = result["learners"]["default_policy"]
    assert np.isfinite(learner["vf_loss"]) and np.isfinite(learner["policy_loss"])
    checkpoint = trainer.save_to_path(str(tmp_path / "maddpg"))
    trainer.stop()
    larger = {**env_config, "n_agents": env_config["n_max"]}
    played = evaluate(checkpoint, larger, episodes=1, seed=0)
    assert played["n_agents"] == env_config["n_max"] and np.isfinite(played["return_mean"])
