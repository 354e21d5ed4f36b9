"""TeamEnv: spaces, padding, masks, rewards, seeding, agents leaving, and the gymnasium env checker."""

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs
from envs.matrix_games import CLIMBING, MatrixGameEnv, penalty_payoff, team_payoff
from envs.scenarios import SCENARIOS, Scenario
from envs.team_env import TEAM_OPTIONS

SCENARIO_CASES = ["spread", "pursuit", "multiwalker", "matrix"]


def rollout(env, seed, steps, action_seed=0):
    """Reset, then step `env` with seeded random actions; return [(obs, reward, terminated, truncated, info)]
    with the reset as the first entry (reward 0)."""
    env.action_space.seed(action_seed)
    obs, info = env.reset(seed=seed)
    out = [(obs, 0.0, False, False, info)]
    for _ in range(steps):
        transition = env.step(env.action_space.sample())
        out.append(transition)
        if transition[2] or transition[3]:
            break
    return out


@pytest.mark.parametrize("scenario", SCENARIO_CASES)
def test_spaces_do_not_depend_on_team_size(scenario):
    small, large = envs.make_team_env(scenario, 3, 8), envs.make_team_env(scenario, 6, 8)
    assert small.observation_space == large.observation_space
    assert small.action_space == large.action_space
    assert small.observation_space["obs"].shape[0] == 8
    assert small.observation_space["mask"].shape == (8,)


@pytest.mark.parametrize("scenario", SCENARIO_CASES)
@pytest.mark.parametrize("n_agents", [3, 6])
def test_mask_counts_agents_and_absent_rows_are_zero(scenario, n_agents):
    env = envs.make_team_env(scenario, n_agents, 8)
    for obs, _, _, _, info in rollout(env, seed=1, steps=20):
        assert obs["mask"].sum() == n_agents
        np.testing.assert_array_equal(obs["mask"], np.arange(8) < n_agents)
        assert not obs["obs"][n_agents:].any()
        assert env.observation_space.contains(obs)
        assert info["n_agents"] == n_agents
        if "agent_rewards" in info:
            assert info["agent_rewards"].dtype == np.float32
            assert not info["agent_rewards"][n_agents:].any()


@pytest.mark.parametrize("scenario", SCENARIO_CASES)
def test_team_reward_is_sum_or_mean_of_agent_rewards(scenario):
    for mode, reduce in [("sum", np.sum), ("mean", np.mean)]:
        env = envs.make_team_env(scenario, 3, 5, reward=mode)
        transitions = rollout(env, seed=2, steps=10)[1:]
        assert transitions
        for _, reward, _, _, info in transitions:
            assert reward == pytest.approx(float(reduce(info["agent_rewards"][:3])), rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("scenario", SCENARIO_CASES)
def test_seeded_resets_reproduce(scenario):
    first = rollout(envs.make_team_env(scenario, 3, 5), seed=7, steps=15)
    second = rollout(envs.make_team_env(scenario, 3, 5), seed=7, steps=15)
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        for key in ("obs", "mask", "state"):
            np.testing.assert_array_equal(a[0][key], b[0][key])
        assert a[1:4] == b[1:4]


def test_different_seeds_give_different_episodes():
    env = envs.make_team_env("spread", 3, 5)
    a, _ = env.reset(seed=0)
    b, _ = env.reset(seed=1)
    assert not np.array_equal(a["obs"], b["obs"])


@pytest.mark.parametrize(
    "scenario, options",
    [
        ("spread", {}),
        ("spread", {"neighbors": None}),
        ("spread", {"continuous_actions": True}),
        ("pursuit", {}),
        ("multiwalker", {}),
        ("matrix", {"game": "penalty", "k": -10.0}),
    ],
)
def test_gymnasium_env_checker_passes(scenario, options):
    check_env(envs.make_team_env(scenario, 3, 5, **options), skip_render_check=True)


def test_actions_of_absent_agents_are_ignored():
    env = envs.make_team_env("spread", 3, 6)
    results = []
    for absent_action in (0, 4):
        env.reset(seed=3)
        action = np.array([1, 2, 3, absent_action, absent_action, absent_action])
        obs, reward, *_ = env.step(action)
        results.append((obs["obs"], reward))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_spread_neighbors_keep_observation_size_for_every_team_size():
    for n in (1, 3, 6, 10):
        assert envs.make_team_env("spread", n, 10).obs_dim == 18


def test_spread_full_observation_is_padded_to_the_size_at_n_max():
    env = envs.make_team_env("spread", 3, 5, neighbors=None)
    assert env.obs_dim == 6 * 5  # vel 2 + pos 2 + landmarks 2N + other agents 2(N-1) + comms 2(N-1)
    obs, _ = env.reset(seed=0)
    assert not obs["obs"][:3, 6 * 3 :].any()
    assert np.abs(obs["obs"][:3, : 6 * 3]).sum(axis=1).min() > 0


def test_spread_state_is_the_padded_mpe_state():
    env = envs.make_team_env("spread", 4, 6)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["state"], obs["obs"].reshape(-1))
    np.testing.assert_allclose(obs["state"][: 4 * 18], env._env.state(), rtol=1e-6)
    assert not obs["state"][4 * 18 :].any()


def test_pursuit_state_is_the_global_map_and_evaders_scale_with_the_team():
    env = envs.make_team_env("pursuit", 4, 8)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["state"], env._env.state().reshape(-1))
    assert env.obs_dim == 7 * 7 * 3
    assert [envs.pursuit_evaders(n) for n in (1, 3, 4, 8)] == [4, 12, 15, 30]
    assert env._env.unwrapped.env.n_evaders == 15


def test_multiwalker_state_puts_the_package_at_a_fixed_offset():
    for n in (2, 4):
        env = envs.make_team_env("multiwalker", n, 4)
        obs, _ = env.reset(seed=0)
        assert obs["state"].shape == (4 * 31 + 3,)
        np.testing.assert_array_equal(obs["state"][: 4 * 31], obs["obs"].reshape(-1))
        package = env._env.unwrapped.env.package
        np.testing.assert_allclose(obs["state"][-3:], [package.position.x, package.position.y, package.angle])


def test_action_spaces():
    assert envs.make_team_env("spread", 3, 5).action_space == gym.spaces.MultiDiscrete([5] * 5)
    assert envs.make_team_env("pursuit", 3, 5).action_space == gym.spaces.MultiDiscrete([5] * 5)
    assert envs.make_team_env("matrix", 3, 5).action_space == gym.spaces.MultiDiscrete([3] * 5)
    walker = envs.make_team_env("multiwalker", 3, 5).action_space
    assert isinstance(walker, gym.spaces.Box) and walker.shape == (5, 4)
    spread_continuous = envs.make_team_env("spread", 3, 5, continuous_actions=True).action_space
    assert isinstance(spread_continuous, gym.spaces.Box) and spread_continuous.shape == (5, 5)


def test_spread_truncates_at_max_cycles_and_keeps_the_final_observation():
    env = envs.make_team_env("spread", 3, 5, max_cycles=7)
    transitions = rollout(env, seed=0, steps=100)
    assert len(transitions) == 1 + 7
    final_obs, _, terminated, truncated, _ = transitions[-1]
    assert truncated and not terminated
    assert final_obs["mask"].sum() == 3 and final_obs["obs"][:3].any()


def test_matrix_game_payoffs():
    assert team_payoff(CLIMBING, np.array([0, 0])) == 11.0
    assert team_payoff(CLIMBING, np.array([0, 1])) == -30.0
    assert team_payoff(CLIMBING, np.array([2, 1])) == 0.0
    penalty = penalty_payoff(-50.0)
    assert team_payoff(penalty, np.array([2, 2, 2])) == 10.0
    # pairs (a, a), (a, c), (a, c): (10 - 50 - 50) / 3
    assert team_payoff(penalty, np.array([0, 0, 2])) == pytest.approx(-30.0)


def test_matrix_game_is_one_step_with_the_team_payoff():
    env = envs.make_team_env("matrix", 2, 4, game="climbing", reward="mean")
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(np.array([0, 1, 2, 2]))
    assert (reward, terminated, truncated) == (-30.0, True, False)
    np.testing.assert_array_equal(info["agent_rewards"], [-30.0, -30.0, 0.0, 0.0])


def test_team_size_list_draws_each_size_reproducibly():
    env = envs.make_team_env("spread", [2, 4], 6)
    draws = []
    env.reset(seed=11)
    for _ in range(30):
        obs, info = env.reset()
        assert obs["mask"].sum() == info["n_agents"]
        draws.append(info["n_agents"])
    assert set(draws) == {2, 4}
    env.reset(seed=11)
    assert [env.reset()[1]["n_agents"] for _ in range(30)] == draws


class LeavingAgentsEnv(MatrixGameEnv):
    """agent_1 terminates after step 1; the rest after step 3. Every observation is agent index + 1."""

    def reset(self, seed=None, options=None):
        self.t = 0
        self.agents = list(self.possible_agents)
        return {a: np.full(1, i + 1.0, np.float32) for i, a in enumerate(self.agents)}, {a: {} for a in self.agents}

    def step(self, actions):
        assert set(actions) == set(self.agents)
        self.t += 1
        acting = list(self.agents)
        done = {a: self.t >= 3 or (a == "agent_1" and self.t >= 1) for a in acting}
        self.agents = [a for a in acting if not done[a]]
        obs = {a: np.full(1, self.possible_agents.index(a) + 1.0, np.float32) for a in acting}
        return obs, {a: 1.0 for a in acting}, done, {a: False for a in acting}, {a: {} for a in acting}


def test_agents_that_leave_get_zero_rows_and_mask_while_the_episode_goes_on():
    scenario = Scenario(
        name="leaving",
        build=lambda n, continuous, **options: LeavingAgentsEnv(n),
        options={},
        action_types=("discrete",),
        grows_with_n="agents",
        obs_size="1",
    )
    config = envs.TeamEnvConfig(
        scenario, (3,), 4, reward="sum", continuous_actions=False, last_action=False, scenario_options={}
    )
    env = envs.TeamEnv(config)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["mask"], [1, 1, 1, 0])

    obs, reward, terminated, truncated, info = env.step(np.zeros(4, np.int64))
    np.testing.assert_array_equal(obs["mask"], [1, 0, 1, 0])
    np.testing.assert_array_equal(obs["obs"][:, 0], [1, 0, 3, 0])
    assert reward == 3.0 and not terminated and not truncated

    obs, reward, terminated, _, info = env.step(np.zeros(4, np.int64))
    assert reward == 2.0 and not terminated
    np.testing.assert_array_equal(info["agent_rewards"], [1, 0, 1, 0])

    obs, reward, terminated, truncated, _ = env.step(np.zeros(4, np.int64))
    assert terminated and not truncated and reward == 2.0
    np.testing.assert_array_equal(obs["mask"], [1, 0, 1, 0])


def test_multiwalker_walkers_that_fall_leave_and_the_others_go_on():
    env = envs.make_team_env("multiwalker", 3, 4, terminate_on_fall=False)
    transitions = rollout(env, seed=1, steps=500)
    masks = np.array([t[0]["mask"] for t in transitions])
    partial = (masks.sum(axis=1) > 0) & (masks.sum(axis=1) < 3)
    assert partial.any(), "no walker fell in 500 random steps"
    first = int(np.argmax(partial))
    gone = masks[first] == 0
    assert not transitions[first][0]["obs"][gone].any()
    assert not (transitions[first][2] or transitions[first][3])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"scenario": "spreadd", "n_agents": 3, "n_max": 5},
            "unknown scenario 'spreadd'; known scenarios: matrix, multiwalker, pursuit, rware, spread, vmas:navigation",
        ),
        ({"scenario": "spread", "n_agents": 6, "n_max": 4}, "n_agents=6 is above n_max=4"),
        ({"scenario": "spread", "n_agents": [2, 9], "n_max": 8}, "n_agents=9 is above n_max=8"),
        ({"scenario": "spread", "n_agents": 0, "n_max": 4}, "n_agents must be at least 1, got 0"),
        ({"scenario": "spread", "n_agents": [], "n_max": 4}, "non-empty list of ints"),
        ({"scenario": "spread", "n_agents": 3, "n_max": 0}, "n_max must be a positive int"),
        ({"scenario": "matrix", "n_agents": 1, "n_max": 4}, "needs at least 2 agents"),
        (
            {"scenario": "spread", "n_agents": 3, "n_max": 4, "n_evaders": 3},
            "does not take option(s) n_evaders; accepted options: continuous_actions, last_action, local_ratio, "
            "max_cycles, neighbors, reward, slots, terminate_on_success",
        ),
        (
            {"scenario": "multiwalker", "n_agents": 3, "n_max": 4, "continuous_actions": False},
            "scenario 'multiwalker' has continuous actions only",
        ),
        (
            {"scenario": "pursuit", "n_agents": 3, "n_max": 4, "continuous_actions": True},
            "scenario 'pursuit' has discrete actions only",
        ),
        (
            {"scenario": "spread", "n_agents": 3, "n_max": 4, "reward": "max"},
            "reward='max' is unknown; use one of sum, mean",
        ),
        ({"scenario": "spread", "n_agents": 3, "n_max": 4, "neighbors": [2]}, "neighbors=[2] must be None"),
        (
            {"scenario": "matrix", "n_agents": 2, "n_max": 4, "game": "chicken"},
            "game='chicken' is unknown; known games: climbing, penalty",
        ),
    ],
)
def test_bad_input_raises_a_clear_error_before_any_env_is_built(kwargs, message, monkeypatch):
    built = []
    for name, scenario in SCENARIOS.items():
        monkeypatch.setitem(
            SCENARIOS, name, Scenario(**{**scenario.__dict__, "build": lambda *a, **k: built.append(a)})
        )
    with pytest.raises(ValueError) as error:
        envs.make_team_env(**kwargs)
    assert message in str(error.value)
    assert not built


def test_n_max_defaults_to_the_largest_team_size():
    assert envs.make_team_env("spread", [2, 5]).n_max == 5


def test_the_docs_document_every_scenario_and_option():
    page = (Path(__file__).parents[1] / "docs" / "environments.md").read_text()
    for name, scenario in SCENARIOS.items():
        assert f"`{name}`" in page
        for option in scenario.options:
            assert f"`{option}`" in page, f"docs/environments.md does not document {name} option {option!r}"
    for option in TEAM_OPTIONS:
        assert f"`{option}`" in page


def test_last_action_option_adds_the_previous_joint_action():
    env = envs.make_team_env("spread", 2, 4, last_action=True)
    assert env.observation_space["last_action"].shape == (4, 5)
    obs, _ = env.reset(seed=0)
    assert not obs["last_action"].any()
    obs, *_ = env.step(np.array([3, 1, 4, 4]))
    np.testing.assert_array_equal(obs["last_action"], np.eye(5)[[3, 1, 0, 0]] * [[1], [1], [0], [0]])
    assert env.observation_space.contains(obs)
    walker = envs.make_team_env("multiwalker", 2, 3, last_action=True)
    walker.reset(seed=0)
    action = np.full((3, 4), 0.5, np.float32)
    obs, *_ = walker.step(action)
    np.testing.assert_array_equal(obs["last_action"], [[0.5] * 4, [0.5] * 4, [0.0] * 4])


@pytest.mark.parametrize("scenario", SCENARIO_CASES)
def test_random_slots_seat_the_same_team_in_drawn_slots(scenario):
    """With slots="random" the episode is the slots="first" one with its rows permuted: observations, mask,
    state layout, actions taken and per-agent rewards all follow the drawn slots."""
    first, shuffled = envs.make_team_env(scenario, 3, 6), envs.make_team_env(scenario, 3, 6, slots="random")
    obs_first, info_first = first.reset(seed=3)
    obs, info = shuffled.reset(seed=3)
    slots = info["slots"]
    assert sorted(set(slots.tolist())) == sorted(slots.tolist()) and len(slots) == 3
    np.testing.assert_array_equal(info_first["slots"], [0, 1, 2])
    rng = np.random.default_rng(0)
    for _ in range(5):
        np.testing.assert_array_equal(obs["obs"][slots], obs_first["obs"][:3])
        np.testing.assert_array_equal(obs["mask"], np.isin(np.arange(6), slots))
        assert not obs["obs"][~np.isin(np.arange(6), slots)].any()
        if scenario in ("spread", "matrix"):  # the state is the padded observations
            np.testing.assert_array_equal(obs["state"].reshape(6, -1)[slots], obs_first["state"].reshape(6, -1)[:3])
        elif scenario == "pursuit":  # a global map, with no slot layout
            np.testing.assert_array_equal(obs["state"], obs_first["state"])
        action_first = first.action_space.sample() if scenario == "multiwalker" else rng.integers(0, 2, 6)
        action = np.zeros_like(action_first)
        action[slots] = action_first[:3]
        obs_first, reward_first, *_, info_first = first.step(action_first)
        obs, reward, *_, info = shuffled.step(action)
        assert reward == pytest.approx(reward_first)
        np.testing.assert_array_equal(info["agent_rewards"][slots], info_first["agent_rewards"][:3])
        if scenario == "matrix":
            break


def test_random_slots_train_every_agent_id():
    env = envs.make_team_env("spread", 2, 6, slots="random")
    seated = set()
    for seed in range(30):
        obs, info = env.reset(seed=seed)
        seated.update(info["slots"].tolist())
        assert obs["mask"].sum() == 2
    assert seated == set(range(6))
    with pytest.raises(ValueError, match="slots='middle' is unknown; use one of first, random"):
        envs.make_team_env("spread", 2, 6, slots="middle")
