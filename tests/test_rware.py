"""The `rware` scenario (the multi-robot warehouse): the team contract, an observation whose size does not grow with
the team, deliveries as the task metric and the team reward, the time limit as a truncation, and bad options."""

import numpy as np
import pytest

import envs
from envs.rware_env import RwareEnv


def test_a_small_team_is_padded_and_its_observation_keeps_its_size_at_every_team_size():
    sizes = {}
    for n in (2, 4, 6):
        env = envs.make_team_env("rware", n, 6, max_cycles=5)
        obs, _ = env.reset(seed=0)
        sizes[n] = obs["obs"].shape
        assert np.array_equal(obs["mask"], np.array([1.0] * n + [0.0] * (6 - n), np.float32))
        assert not obs["obs"][n:].any(), "absent robots' rows are zero"
        assert obs["state"].shape == (6 * 71,)
    assert set(sizes.values()) == {(6, 71)}, "RWARE's 3 x 3 window: 71 features at any team size"
    wider = envs.make_team_env("rware", 2, 2, sensor_range=2)
    assert wider.reset(seed=0)[0]["obs"].shape == (2, 8 + 7 * 25)


def test_deliveries_are_the_task_metric_and_the_team_reward(monkeypatch):
    env = envs.make_team_env("rware", 2, 3, max_cycles=3)
    env.reset(seed=0)
    base = _rware(env)
    step = base.warehouse.step

    def one_delivery_by_robot_1(actions):
        observations, _, done, truncated, info = step(actions)
        return observations, [0.0, 1.0], done, truncated, info

    monkeypatch.setattr(base.warehouse, "step", one_delivery_by_robot_1)
    rewards, info = [], {}
    for _ in range(3):
        _, reward, terminated, truncated, info = env.step(np.zeros(3, np.int64))
        rewards.append(reward)
    assert rewards == [1.0, 1.0, 1.0], "the team reward sums the robots' individual rewards"
    assert not terminated and truncated, "max_cycles is a time limit: truncated, so learners bootstrap"
    assert info["task_metrics"] == {"deliveries": 3.0, "deliveries_per_agent": 1.5}
    assert np.array_equal(info["agent_rewards"], np.array([0.0, 1.0, 0.0], np.float32))


def test_inactivity_ends_the_episode_as_a_termination():
    env = RwareEnv(2, max_cycles=50, max_inactivity_steps=4)
    env.reset(seed=0)
    ends = [env.step({agent: 0 for agent in env.agents}) for _ in range(4)]
    _, _, terminations, truncations, _ = ends[-1]
    assert all(terminations.values()) and not any(truncations.values())
    assert env.agents == [] and env.deliveries == 0


@pytest.mark.parametrize(
    "options, message",
    [
        ({"size": "huge"}, "rware option size='huge' is unknown; known sizes: tiny, small, medium, large"),
        ({"sensor_range": 0}, "rware option sensor_range=0 must be an int >= 1"),
        ({"request_queue": 0}, "rware option request_queue=0 must be an int >= 1"),
    ],
)
def test_bad_rware_options_name_what_is_accepted(options, message):
    with pytest.raises(ValueError, match=message):
        envs.make_team_env("rware", 2, 4, **options)


def _rware(env) -> RwareEnv:
    """The `RwareEnv` inside a team env."""
    assert isinstance(env._env, RwareEnv)
    return env._env
