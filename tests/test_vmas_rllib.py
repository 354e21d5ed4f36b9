"""Short RLlib runs on a VMAS task, one per algorithm family (value, on-policy actor-critic, off-policy actor-critic):
each trains on a vector env of several worlds, checkpoints, and evaluates at a larger team."""

import numpy as np
import pytest
import torch

import rl_algos
from rl_algos.common import evaluate

NAVIGATION = {"scenario": "vmas:navigation", "n_agents": 2, "n_max": 4, "max_steps": 10}
CASES = {
    "qmix": ("qmix", {}, {"learning_starts": 40, "train_batch_size_per_learner": 16}),
    "vdn": ("vdn", {}, {"learning_starts": 40, "train_batch_size_per_learner": 16}),
    "central_v": ("central_v", {}, {"train_batch_size_per_learner": 80}),
    "maddpg-continuous": ("maddpg", {"continuous_actions": True}, {"learning_starts": 40, "train_ratio": 0.1}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_trains_on_vmas_worlds_checkpoints_and_evaluates_at_a_larger_team(ray_session, tmp_path, case):
    algo, env_options, training = CASES[case]
    env_config = {**NAVIGATION, **env_options}
    trainer = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=8, rollout_fragment_length=10)
        .training(**training)
        .reporting(min_sample_timesteps_per_iteration=80)
        .debugging(seed=0)
        .build_algo()
    )
    assert trainer.env_runner.env.unwrapped.num_envs == 8
    module = trainer.learner_group._learner.module["default_policy"]
    before = {k: v.clone() for k, v in module.state_dict().items()}
    for _ in range(2):
        result = trainer.train()
    assert result["env_runners"]["num_env_steps_sampled_lifetime"] >= 160
    assert any(not torch.equal(v, before[k]) for k, v in module.state_dict().items())
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()

    larger = evaluate(checkpoint, {**env_config, "n_agents": 4}, episodes=2, seed=1)
    assert larger["episodes"] == 2 and larger["n_agents"] == 4 and larger["episode_len_mean"] == 10
    assert np.isfinite(larger["return_mean"])
    assert all(0.0 <= share <= 1.0 for share in larger["task_metrics"]["agents_on_goal"])
