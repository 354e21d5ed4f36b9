"""VMAS tasks as team envs: the TeamEnv contract per world, the vector env's next-step autoreset, mixed team sizes,
agent slots, seeding, task metrics, and bad input refused before any world is built."""

from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import envs
from envs.vmas_env import VmasTeamVectorEnv
from envs.vmas_tasks import VMAS_OPTIONS, VMAS_TASKS, vmas_task_options


@pytest.mark.parametrize("task", list(VMAS_TASKS))
def test_every_offered_task_keeps_its_observation_size_and_spaces_across_team_sizes(task):
    small, large = envs.make_team_env(f"vmas:{task}", 3, 6), envs.make_team_env(f"vmas:{task}", 6, 6)
    assert small.observation_space == large.observation_space
    assert small.action_space == large.action_space
    assert small.observation_space["obs"].shape == (6, VMAS_TASKS[task])
    obs_small, _ = small.reset(seed=0)
    obs_large, _ = large.reset(seed=0)
    assert obs_small["obs"][:3].any(axis=1).all() and obs_large["obs"].any(axis=1).all()


def test_task_options_are_read_from_vmas_with_their_defaults():
    options = vmas_task_options("navigation")
    assert options["collisions"] is True and options["lidar_range"] == 0.35 and "n_agents" not in options
    assert vmas_task_options("dropout")["energy_coeff"] == pytest.approx(0.02)  # a module constant in VMAS


def test_mask_and_padded_rows_and_team_reward():
    env = envs.make_team_env("vmas:navigation", 3, 5)
    obs, info = env.reset(seed=1)
    np.testing.assert_array_equal(obs["mask"], [1, 1, 1, 0, 0])
    assert not obs["obs"][3:].any() and obs["obs"][:3].any(axis=1).all()
    np.testing.assert_array_equal(obs["state"], obs["obs"].reshape(-1))
    assert info["n_agents"] == 3
    obs, reward, _, _, info = env.step(np.array([1, 2, 3, 7, 8]))
    assert not obs["obs"][3:].any() and not info["agent_rewards"][3:].any()
    assert reward == pytest.approx(info["agent_rewards"].sum(), rel=1e-5)
    mean_env = envs.make_team_env("vmas:navigation", 3, 5, reward="mean")
    mean_env.reset(seed=1)
    _, mean_reward, _, _, _ = mean_env.step(np.array([1, 2, 3, 7, 8]))
    assert mean_reward == pytest.approx(reward / 3, rel=1e-5)


def test_gymnasium_env_checker_passes():
    check_env(envs.make_team_env("vmas:balance", 2, 4), skip_render_check=True)


def test_seeded_resets_reproduce_and_seeds_differ():
    def episode(seed):
        env = envs.make_team_env("vmas:navigation", 3, 4, max_steps=5)
        env.action_space.seed(0)
        observations = [env.reset(seed=seed)[0]["obs"]]
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            observations.append(obs["obs"])
            done = terminated or truncated
        return np.stack(observations)

    np.testing.assert_array_equal(episode(3), episode(3))
    assert not np.array_equal(episode(3), episode(4))


def test_episode_truncates_at_max_steps_with_task_metrics():
    env = envs.make_team_env("vmas:navigation", 2, 3, max_steps=4)
    env.reset(seed=0)
    for _ in range(4):
        _, _, terminated, truncated, info = env.step(np.zeros(3, np.int64))
    assert truncated and not terminated
    assert 0.0 <= info["task_metrics"]["agents_on_goal"] <= 1.0


def test_navigation_metric_counts_agents_on_their_goal():
    vector = VmasTeamVectorEnv(envs.parse_env_config("vmas:navigation", 3, 3), num_envs=2)
    vector.reset(seed=0)
    world = vector._groups[0].env
    agents = world.scenario.world.agents
    for agent in agents[:2]:  # world 0: two of three agents sit on their goals
        agent.state.pos[0] = agent.goal.state.pos[0]
    agents[2].state.pos[0] = agents[2].goal.state.pos[0] + 1.0
    for agent in agents:  # world 1: nobody is on a goal
        agent.state.pos[1] = agent.goal.state.pos[1] + 1.0
    np.testing.assert_allclose(
        envs.find_scenario("vmas:navigation").metrics.result(world)["agents_on_goal"], [2 / 3, 0]
    )


def test_vector_env_autoresets_on_the_next_step():
    vector = envs.make_team_vector_env("vmas:navigation", 2, 3, num_envs=4, max_steps=3)
    first, info = vector.reset(seed=0)
    assert first["obs"].shape == (4, 3, 18) and list(info["n_agents"]) == [2] * 4
    actions = np.ones((4, 3), np.int64)  # VMAS's action 0 stands still: no shaping reward
    for _ in range(3):
        obs, rewards, terminated, truncated, info = vector.step(actions)
    assert truncated.all() and not terminated.any() and info["_task_metrics"].all()
    obs, rewards, terminated, truncated, info = vector.step(actions)  # the reset step
    assert not rewards.any() and not terminated.any() and not truncated.any()
    assert info["_slots"].all() and "task_metrics" not in info
    np.testing.assert_array_equal(obs["mask"], np.tile([1, 1, 0], (4, 1)))
    obs, rewards, *_ = vector.step(actions)  # a new episode's first step
    assert rewards.all()


def test_worlds_that_end_early_reset_alone():
    vector = envs.make_team_vector_env("vmas:navigation", 2, 2, num_envs=3, max_steps=50)
    vector.reset(seed=0)
    world = vector._groups[0].env
    for agent in world.scenario.world.agents:  # world 1 reaches its goals: it terminates, the others go on
        agent.state.pos[1] = agent.goal.state.pos[1]
    actions = np.zeros((3, 2), np.int64)
    _, _, terminated, truncated, _ = vector.step(actions)
    assert terminated.tolist() == [False, True, False] and not truncated.any()
    steps_before = world.steps.clone()
    _, rewards, terminated, _, info = vector.step(actions)
    assert world.steps.tolist() == [steps_before[0] + 1, 0, steps_before[2] + 1]
    assert rewards[1] == 0 and info["_slots"].tolist() == [False, True, False]


def test_mixed_team_sizes_split_the_worlds():
    vector = envs.make_team_vector_env("vmas:navigation", [2, 4], 4, num_envs=5)
    obs, info = vector.reset(seed=0)
    assert info["n_agents"].tolist() == [2, 2, 2, 4, 4]
    np.testing.assert_array_equal(obs["mask"].sum(axis=1), [2, 2, 2, 4, 4])
    obs, rewards, _, _, info = vector.step(np.ones((5, 4), np.int64))
    assert not info["agent_rewards"][:3, 2:].any() and info["agent_rewards"][3:].all()
    np.testing.assert_allclose(rewards, info["agent_rewards"].sum(axis=1), rtol=1e-5)
    with pytest.raises(ValueError, match="each size needs at least one world; use num_envs >= 2"):
        envs.make_team_vector_env("vmas:navigation", [2, 4], 4, num_envs=1)


def test_random_slots_seat_each_world_and_route_its_actions():
    vector = envs.make_team_vector_env("vmas:navigation", 2, 5, num_envs=3, slots="random", last_action=True)
    obs, info = vector.reset(seed=2)
    slots = np.stack(info["slots"])  # [E, 2]
    for e in range(3):
        assert sorted(np.flatnonzero(obs["mask"][e])) == sorted(slots[e])
    actions = np.zeros((3, 5), np.int64)
    actions[np.arange(3), slots[:, 0]] = 4  # agent 0 of each world, wherever it sits
    first = vector._groups[0].env.scenario.world.agents[0]
    before = first.state.pos.clone()
    obs, *_ = vector.step(actions)
    moved = (first.state.pos - before).norm(dim=-1)
    assert (moved > 0).all()
    np.testing.assert_array_equal(obs["last_action"][np.arange(3), slots[:, 0]].argmax(-1), [4, 4, 4])
    assert obs["last_action"][obs["mask"] == 0].sum() == 0


def test_continuous_actions():
    env = envs.make_team_env("vmas:balance", 3, 4, continuous_actions=True)
    assert env.action_space.shape == (4, 2) and env.action_space.low.min() == -1.0
    env.reset(seed=0)
    obs, reward, *_ = env.step(np.full((4, 2), 0.5, np.float32))
    assert np.isfinite(reward) and not obs["obs"][3].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"scenario": "vmas:simple_spread", "n_agents": 3},
            "unknown VMAS scenario 'vmas:simple_spread'; offered: vmas:navigation",
        ),
        (
            {"scenario": "vmas:navigation", "n_agents": 3, "lidar": 1.0},
            "does not take option(s) lidar; accepted options:",
        ),
        ({"scenario": "vmas:navigation", "n_agents": 3, "collisions": 1}, "collisions=1 must be a bool"),
        (
            {"scenario": "vmas:navigation", "n_agents": 3, "lidar_range": "far"},
            "lidar_range='far' must be a finite number",
        ),
        ({"scenario": "vmas:navigation", "n_agents": 3, "max_steps": 0}, "max_steps=0 must be an int >= 1"),
        ({"scenario": "vmas:navigation", "n_agents": 3, "device": "tpu9"}, "device='tpu9' is not a torch device"),
        ({"scenario": "vmas:navigation", "n_agents": 7, "n_max": 6}, "n_agents=7 is above n_max=6"),
    ],
)
def test_bad_input_raises_a_clear_error_before_any_world_is_built(kwargs, message, monkeypatch):
    import vmas

    built = []
    monkeypatch.setattr(vmas, "make_env", lambda *a, **k: built.append(a))
    with pytest.raises(ValueError) as error:
        envs.make_team_env(**kwargs)
    assert message in str(error.value)
    assert not built


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_cuda_device_without_a_gpu_is_refused():
    with pytest.raises(ValueError, match="torch sees no CUDA GPU here; use device='cpu'"):
        envs.make_team_env("vmas:navigation", 3, device="cuda")


def test_the_docs_document_every_offered_task_and_the_vmas_options():
    page = (Path(__file__).parents[1] / "docs" / "environments.md").read_text()
    for task in VMAS_TASKS:
        assert f"`vmas:{task}`" in page
    for option in VMAS_OPTIONS:
        assert f"`{option}`" in page
