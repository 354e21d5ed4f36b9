"""Evaluation plays a checkpoint's module in the team env without building an Algorithm: the same episodes, actions
and rewards as RLlib's env runner with `explore=False` and the same seed."""

import numpy as np
import pytest

import rl_algos
from rl_algos.common.evaluation.team_evaluation import checkpoint_module, greedy_episodes

AT_4 = {"n_agents": 4, "n_max": 6}


@pytest.mark.parametrize(
    "scenario, algo, training",
    [
        ("spread", "qmix", {}),  # the module's own greedy actions
        ("vmas:spread", "iql", {"recurrent": True}),  # with a recurrent state carried from step to step
        ("spread", "central_v_sac", {}),  # the deterministic sample of the action distribution
        ("vmas:spread", "mappo", {"recurrent": True, "team_embedding": "graph"}),  # both
    ],
)
def test_a_checkpoint_s_module_plays_the_episodes_rllib_s_env_runner_plays(
    scenario, algo, training, ray_session, tmp_path
):
    env_config = {"scenario": scenario, **AT_4}
    trainer = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1, create_env_on_local_worker=True)
        .training(**training)
        .debugging(seed=123)
        .build_algo()
    )
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    theirs = trainer.env_runner.sample(num_episodes=3, explore=False)
    trainer.stop()
    module, config = checkpoint_module(checkpoint, env_config)
    ours = greedy_episodes(module, env_config, episodes=3, seed=123)
    assert config.gamma == 0.99 and len(ours) == 3
    for rllib_episode, episode in zip(theirs, ours, strict=True):
        np.testing.assert_allclose(episode.observations["obs"], rllib_episode.get_observations()["obs"], rtol=1e-6)
        np.testing.assert_array_equal(episode.actions, np.asarray(rllib_episode.get_actions()))
        np.testing.assert_allclose(episode.rewards, rllib_episode.get_rewards(), rtol=1e-6)
        assert episode.info["task_metrics"] == rllib_episode.get_infos(-1)["task_metrics"]
    assert len({episode.episode_return for episode in ours}) > 1, "the episodes start from different states"
