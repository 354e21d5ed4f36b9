"""The registered "team" env through RLlib's SingleAgentEnvRunner (local, no Ray cluster needed)."""

import numpy as np
import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core import Columns
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

import envs  # noqa: F401  (registers "team")


class UniformTeamModule(TorchRLModule):
    """Uniform random joint actions; absent agents get action 0."""

    def setup(self):
        self.n_actions = torch.as_tensor(self.action_space.nvec)

    def _forward(self, batch, **kwargs):
        mask = batch[Columns.OBS]["mask"]  # [B, n_max]
        actions = (torch.rand(mask.shape) * self.n_actions).long()
        return {Columns.ACTIONS: actions * mask.long()}


class UniformTeamConfig(AlgorithmConfig):
    def get_default_rl_module_spec(self):
        return RLModuleSpec(module_class=UniformTeamModule)


def test_single_agent_env_runner_samples_a_full_team_episode():
    config = (
        UniformTeamConfig()
        .environment("team", env_config={"scenario": "spread", "n_agents": 3, "n_max": 5, "max_cycles": 10})
        .env_runners(num_env_runners=0)
    )
    runner = SingleAgentEnvRunner(config=config)
    (episode,) = runner.sample(num_episodes=1)
    assert len(episode) == 10 and episode.is_truncated and not episode.is_terminated
    first = episode.get_observations(0)
    assert first["obs"].shape == (5, 18)
    np.testing.assert_array_equal(first["mask"], [1, 1, 1, 0, 0])
    agent_reward_sum = sum(episode.get_infos(t)["agent_rewards"].sum() for t in range(1, 11))
    assert np.isclose(episode.get_return(), agent_reward_sum, rtol=1e-5)
    assert not episode.get_actions()[:, 3:].any()
    runner.stop()
