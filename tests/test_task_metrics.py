"""Task metrics read from the scenario's own state, on hand-placed states, and their place in the team env's infos."""

import numpy as np
import pytest

import envs
from envs.scenarios import SCENARIOS
from envs.task_metrics import MatrixMetrics, MultiwalkerMetrics, PursuitMetrics, SpreadMetrics


def test_spread_agents_on_the_landmarks_occupy_all_of_them():
    env = envs.make_team_env("spread", 3, 6)
    env.reset(seed=0)
    world = env._env.unwrapped.world
    tracker = SpreadMetrics(env._env)
    for agent, landmark in zip(world.agents, world.landmarks, strict=True):
        agent.state.p_pos = landmark.state.p_pos + 0.05
    result = tracker.result(env._env)
    assert result["occupied_landmarks"] == 1.0
    assert result["min_dist_sum"] == pytest.approx(3 * np.hypot(0.05, 0.05))
    world.agents[0].state.p_pos = world.landmarks[0].state.p_pos + 0.5  # one landmark left free
    world.agents[1].state.p_pos = world.landmarks[1].state.p_pos  # and no agent doubles up on it
    assert tracker.result(env._env)["occupied_landmarks"] == pytest.approx(2 / 3)


def test_spread_occupancy_counts_each_radius_on_its_own():
    env = envs.make_team_env("spread", 3, 6)
    env.reset(seed=0)
    world = env._env.unwrapped.world
    offsets = (0.05, 0.15, 0.25)  # each agent this far (along x) from its own landmark
    for agent, landmark, offset in zip(world.agents, world.landmarks, offsets, strict=True):
        landmark.state.p_pos = np.array([10.0 * offset, 0.0])  # landmarks far apart: nearest agent is its own
        agent.state.p_pos = landmark.state.p_pos + np.array([offset, 0.0])
    result = SpreadMetrics(env._env).result(env._env)
    assert result["occupied_landmarks"] == pytest.approx(1 / 3)
    assert result["occupied_landmarks_r02"] == pytest.approx(2 / 3)
    assert result["occupied_landmarks_r03"] == 1.0


def test_spread_collisions_count_overlapping_pairs_at_every_step():
    env = envs.make_team_env("spread", 3, 6)
    env.reset(seed=0)
    agents = env._env.unwrapped.world.agents
    for i, agent in enumerate(agents):
        agent.state.p_pos = np.array([float(i), 0.0])  # far apart: no collision
    tracker = SpreadMetrics(env._env)
    tracker.step(env._env)
    agents[1].state.p_pos = agents[0].state.p_pos + agents[0].size  # closer than the sum of their sizes
    tracker.step(env._env)
    tracker.step(env._env)
    assert tracker.result(env._env)["collisions"] == 2.0


def test_pursuit_counts_caught_evaders_and_when_the_last_was_caught():
    env = envs.make_team_env("pursuit", 4, 4, n_evaders=4)
    env.reset(seed=0)
    base = env._env.unwrapped.env
    tracker = PursuitMetrics(env._env)
    base.evaders_gone[:] = [True, False, False, False]
    tracker.step(env._env)
    assert tracker.result(env._env) == {"evaders_caught": 0.25, "steps_to_catch_all": 1.0}
    base.evaders_gone[:] = True
    tracker.step(env._env)
    tracker.step(env._env)
    assert tracker.result(env._env) == {"evaders_caught": 1.0, "steps_to_catch_all": 2.0}


def test_multiwalker_package_distance_and_fall():
    env = envs.make_team_env("multiwalker", 3, 3)
    env.reset(seed=0)
    base = env._env.unwrapped.env
    tracker = MultiwalkerMetrics(env._env)
    start = base.package.position.x
    base.package.position = (start + 1.5, base.package.position.y)
    assert tracker.result(env._env) == {"package_distance": pytest.approx(1.5), "package_fell": 0.0}
    base.game_over = True
    assert tracker.result(env._env)["package_fell"] == 1.0


@pytest.mark.parametrize("actions, optimal", [([0, 0, 0], 1.0), ([1, 1, 1], 0.0), ([0, 0, 1], 0.0)])
def test_matrix_optimal_rate_is_one_for_the_best_joint_action(actions, optimal):
    env = envs.make_team_env("matrix", 3, 3, game="climbing")
    env.reset(seed=0)
    *_, info = env.step(np.array(actions))
    assert info["task_metrics"] == {"optimal_rate": optimal}
    assert MatrixMetrics.names == ("optimal_rate",)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_last_step_of_every_episode_reports_the_scenarios_metrics(scenario):
    env = envs.make_team_env(scenario, 2, 3, max_cycles=20) if scenario != "matrix" else envs.make_team_env(scenario, 2)
    env.reset(seed=1)
    env.action_space.seed(0)
    while True:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            break
        assert "task_metrics" not in info
    names = SCENARIOS[scenario].metrics.names
    assert set(info["task_metrics"]) == set(names)
    assert all(np.isfinite(value) for value in info["task_metrics"].values())


def test_the_random_policy_baseline_reports_task_metrics_per_episode():
    from rl_algos.common.evaluation.team_evaluation import random_policy_evaluation, random_policy_returns

    spread = {"scenario": "spread", "n_agents": 3, "n_max": 3, "max_cycles": 10}
    result = random_policy_evaluation(spread, episodes=4, seed=0)
    assert set(result["task_metrics"]) == set(SpreadMetrics.names)
    assert all(len(values) == 4 for values in result["task_metrics"].values())
    assert all(0.0 <= value <= 1.0 for value in result["task_metrics"]["occupied_landmarks"])
    np.testing.assert_array_equal(random_policy_returns(spread, episodes=4, seed=0), result["returns"])
