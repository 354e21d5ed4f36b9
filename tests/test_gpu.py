"""On a CUDA machine only (skipped elsewhere): VMAS worlds on `device="cuda"`, and a replay and an on-policy learner
on `num_gpus_per_learner=1` whose weights reach the CPU env runner and whose checkpoint plays on the CPU."""

import numpy as np
import pytest
import torch

import envs
import rl_algos
from rl_algos.common import evaluate

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

VMAS_SPREAD = {"scenario": "vmas:spread", "n_agents": 3, "n_max": 6}


def cuda_episode(seed: int) -> list[tuple]:
    env = envs.make_team_env("vmas:spread", 3, 6, device="cuda")
    actions = np.random.default_rng(0).integers(0, 5, size=(25, 6))
    obs, _ = env.reset(seed=seed)
    steps = [(obs["obs"], 0.0)]
    for joint in actions:
        obs, reward, terminated, truncated, info = env.step(joint)
        assert isinstance(obs["obs"], np.ndarray) and obs["obs"].shape == (6, 18)
        assert reward == pytest.approx(info["agent_rewards"].sum(), rel=1e-5)
        steps.append((obs["obs"], reward))
        if terminated or truncated:
            break
    return steps


def test_vmas_worlds_on_cuda_return_numpy_and_reproduce_their_seed():
    first, again, other = cuda_episode(3), cuda_episode(3), cuda_episode(4)
    assert len(first) == 26  # the 25-step time limit
    for (obs, reward), (obs_again, reward_again) in zip(first, again, strict=True):
        np.testing.assert_array_equal(obs, obs_again)
        assert reward == reward_again
    assert not np.array_equal(first[0][0], other[0][0])
    assert not first[0][0][3:].any()  # padded slots stay empty


@pytest.mark.parametrize(
    "algo, training",
    [
        ("qmix", {"team_embedding": "graph", "learning_starts": 100, "train_batch_size_per_learner": 32}),
        ("mappo", {"team_embedding": "graph", "train_batch_size_per_learner": 200}),
    ],
)
def test_a_learner_on_the_gpu_trains_and_its_weights_reach_the_cpu_runner(ray_session, tmp_path, algo, training):
    trainer = (
        rl_algos.get_config(algo)
        .environment("team", env_config={**VMAS_SPREAD, "device": "cuda"})
        .env_runners(num_env_runners=0, num_envs_per_env_runner=8)
        .learners(num_learners=0, num_gpus_per_learner=1)
        .training(**training)
        .reporting(min_sample_timesteps_per_iteration=200)
        .debugging(seed=0)
    ).build_algo()
    learned = trainer.learner_group._learner.module["default_policy"]
    acting = trainer.env_runner.module
    before = {name: value.detach().cpu().clone() for name, value in learned.state_dict().items()}
    for _ in range(3):
        trainer.train()
    after = {name: value.detach().cpu() for name, value in learned.state_dict().items()}
    assert all(value.is_cuda for value in learned.parameters())
    assert any(not torch.equal(after[name], before[name]) for name in before)
    acted = acting.state_dict()
    assert acted and all(value.device.type == "cpu" for value in acted.values())
    for name, value in acted.items():
        torch.testing.assert_close(value, after[name])
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()

    played = evaluate(checkpoint, {**VMAS_SPREAD, "n_agents": 6}, episodes=2, seed=0)
    assert played["episodes"] == 2 and np.isfinite(played["return_mean"])
