"""`vmas:spread` against mpe2's spread: the same observation and reward on the same positions, MPE's moves, the task
metrics, the heuristic, option checks, and a spread-trained policy evaluated on its VMAS twin."""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from mpe2 import simple_spread_v3

import envs
import rl_algos
from envs.heuristics import SPREAD_ACCEL, SPREAD_MOVES
from envs.task_metrics import SpreadMetrics
from rl_algos.common.evaluation.team_evaluation import evaluate, scripted_policy_evaluation


def vmas_worlds(n_agents, num_envs=4, seed=0, **options):
    """A `vmas:spread` vector env reset with `seed`, and its (one) VMAS env."""
    vector_env = envs.make_team_vector_env("vmas:spread", n_agents, 6, num_envs=num_envs, **options)
    obs, _ = vector_env.reset(seed=seed)
    return vector_env, vector_env._groups[0].env, obs


def mpe2_copy(vmas_env, world_index, n_agents, local_ratio=0.5):
    """An mpe2 spread (neighbours 2, 3) whose agents and landmarks stand where world `world_index` of `vmas_env` has
    them, with its velocities."""
    env = simple_spread_v3.parallel_env(
        N=n_agents, num_agent_neighbors=2, num_landmark_neighbors=3, local_ratio=local_ratio
    )
    env.reset(seed=0)
    world = env.unwrapped.world
    scenario = vmas_env.scenario
    for mpe_agent, agent in zip(world.agents, scenario.world.agents, strict=True):
        mpe_agent.state.p_pos = agent.state.pos[world_index].double().numpy()
        mpe_agent.state.p_vel = agent.state.vel[world_index].double().numpy()
    for mpe_landmark, landmark in zip(world.landmarks, scenario.world.landmarks, strict=True):
        mpe_landmark.state.p_pos = landmark.state.pos[world_index].double().numpy()
    return env.unwrapped


@pytest.mark.parametrize("n_agents", [1, 3, 5])
def test_observation_and_reward_are_mpe2_spreads_on_the_same_positions(n_agents):
    vector_env, vmas_env, obs = vmas_worlds(n_agents)
    rng = np.random.default_rng(0)
    for _ in range(3):  # after moves, so that velocities and collisions are not all zero
        actions = rng.integers(0, 5, (4, 6))
        obs, reward, _, _, infos = vector_env.step(actions)
    assert obs["obs"].shape == (4, 6, 18)
    for e in range(4):
        mpe = mpe2_copy(vmas_env, e, n_agents)
        scenario, world = mpe.scenario, mpe.world
        for i, agent in enumerate(world.agents):
            np.testing.assert_allclose(obs["obs"][e, i], scenario.observation(agent, world), atol=1e-5)
            expected = 0.5 * scenario.global_reward(world) + 0.5 * scenario.reward(agent, world)
            assert infos["agent_rewards"][e, i] == pytest.approx(expected, abs=1e-4)
        assert not obs["obs"][e, n_agents:].any()
        assert reward[e] == pytest.approx(infos["agent_rewards"][e].sum(), abs=1e-4)


def test_collisions_are_the_local_reward_and_counted_per_step():
    vector_env, vmas_env, _ = vmas_worlds(2, num_envs=1, local_ratio=1.0, max_steps=3)
    agents = vmas_env.scenario.world.agents
    agents[0].set_pos(torch.tensor([[0.0, 0.0]]), batch_index=None)
    agents[1].set_pos(torch.tensor([[0.35, 0.0]]), batch_index=None)  # apart: 0.35 > 0.15 + 0.15
    agents[0].set_vel(torch.tensor([[1.0, 0.0]]), batch_index=None)  # heading into each other
    agents[1].set_vel(torch.tensor([[-1.0, 0.0]]), batch_index=None)
    totals = []
    for _ in range(3):
        _, reward, _, truncated, infos = vector_env.step(np.zeros((1, 6), np.int64))
        totals.append(reward[0])
    # after the first step they overlap, each agent -1, until the contact force has pushed them apart
    assert totals[0] == pytest.approx(-2.0)
    steps_overlapping = -sum(totals) / 2
    assert truncated[0] and infos["task_metrics"]["collisions"][0] == pytest.approx(steps_overlapping)


def test_each_discrete_action_is_mpe_move_and_continuous_is_a_force():
    for action, move in enumerate(SPREAD_MOVES):
        vector_env, vmas_env, _ = vmas_worlds(1, num_envs=1)
        vector_env.step(np.full((1, 6), action))
        velocity = vmas_env.scenario.world.agents[0].state.vel[0].numpy()
        np.testing.assert_allclose(velocity, move * SPREAD_ACCEL * 0.1, atol=1e-6)  # from rest: accel * dt
    vector_env, vmas_env, _ = vmas_worlds(1, num_envs=1, continuous_actions=True)
    assert vector_env.single_action_space.shape == (6, 2)
    vector_env.step(np.tile([0.5, -1.0], (1, 6, 1)).astype(np.float32))
    velocity = vmas_env.scenario.world.agents[0].state.vel[0].numpy()
    np.testing.assert_allclose(velocity, [0.25, -0.5], atol=1e-6)


def test_task_metrics_at_the_end_are_spreads_of_the_final_positions():
    vector_env, vmas_env, _ = vmas_worlds(3, num_envs=3, max_steps=4)
    rng = np.random.default_rng(1)
    for _ in range(4):
        _, _, _, truncated, infos = vector_env.step(rng.integers(0, 5, (3, 6)))
    assert truncated.all()
    for e in range(3):
        expected = SpreadMetrics(None).result(mpe2_copy(vmas_env, e, 3))
        for name in ("occupied_landmarks", "occupied_landmarks_r02", "occupied_landmarks_r03", "min_dist_sum"):
            assert infos["task_metrics"][name][e] == pytest.approx(expected[name], abs=1e-5)


def test_the_heuristic_solves_it_and_random_does_not():
    config = {"scenario": "vmas:spread", "n_agents": 3, "n_max": 6}
    heuristic = scripted_policy_evaluation(config, 10, 0, "heuristic")
    random = scripted_policy_evaluation(config, 10, 0, "random")
    assert heuristic["return_mean"] > random["return_mean"] + 30
    assert np.mean(heuristic["task_metrics"]["occupied_landmarks_r02"]) > 0.9
    assert np.mean(random["task_metrics"]["occupied_landmarks_r02"]) < 0.3


def test_one_world_passes_gymnasium_checks_and_keeps_its_size_at_every_team_size():
    check_env(envs.make_team_env("vmas:spread", 2, 4), skip_render_check=True)
    small, large = envs.make_team_env("vmas:spread", 3, 8), envs.make_team_env("vmas:spread", 8, 8)
    assert small.observation_space == large.observation_space
    assert (
        small.observation_space["obs"].shape
        == (8, 18)
        == envs.make_team_env("spread", 3, 8).observation_space["obs"].shape
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"neighbors": None}, "must be two positive ints"),
        ({"neighbors": [2, 0]}, "must be two positive ints"),
        ({"local_ratio": 1.5}, "must be a number in [0, 1]"),
        ({"max_steps": 0}, "must be an int >= 1"),
        ({"max_cycles": 25}, "accepted options"),
    ],
)
def test_bad_options_are_refused_before_any_world_is_built(options, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        envs.parse_env_config("vmas:spread", 3, 6, **options)


def test_it_is_listed_with_a_heuristic_and_as_spreads_twin():
    assert "vmas:spread" in envs.scenario_names()
    assert "vmas:spread" in envs.heuristic_scenario_names()
    assert envs.find_scenario("spread").twin == "vmas:spread"
    assert envs.find_scenario("vmas:spread").twin == "spread"


def test_a_policy_trained_on_vmas_spread_evaluates_on_spread_and_nowhere_else(ray_session, tmp_path):
    env_config = {"scenario": "vmas:spread", "n_agents": 2, "n_max": 4, "max_steps": 10}
    config = (
        rl_algos.get_config("mappo")
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=10)
        .training(team_embedding="graph", train_batch_size_per_learner=100, minibatch_size=50, num_epochs=2)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    result = trainer.train()
    assert result["env_runners"]["num_episodes"] >= 10 and np.isfinite(
        result["learners"]["default_policy"]["total_loss"]
    )
    checkpoint = trainer.save_to_path(str(tmp_path / "mappo"))
    trainer.stop()
    on_spread = evaluate(checkpoint, {"scenario": "spread", "n_agents": 3, "n_max": 4, "max_cycles": 10}, episodes=2)
    assert on_spread["episode_len_mean"] == 10.0 and len(on_spread["task_metrics"]["occupied_landmarks"]) == 2
    with pytest.raises(ValueError, match="or its twin 'spread'"):
        evaluate(checkpoint, {"scenario": "vmas:navigation", "n_agents": 2, "n_max": 4}, episodes=1)


def test_from_the_same_state_under_the_same_moves_the_agents_follow_mpe2s_trajectories():
    # 4 agents starting in a huddle, 25 steps of random moves: contact forces at work; mpe2 in float64, VMAS float32
    vector_env, vmas_env, _ = vmas_worlds(4, num_envs=1)
    for agent, position in zip(
        vmas_env.scenario.world.agents, [[0, 0], [0.25, 0], [0, 0.25], [0.25, 0.25]], strict=True
    ):
        agent.set_pos(torch.tensor([position], dtype=torch.float32), batch_index=None)
    mpe = mpe2_copy(vmas_env, 0, 4)
    rng = np.random.default_rng(3)
    for _ in range(25):
        moves = rng.integers(0, 5, 4)
        vector_env.step(np.concatenate([moves, [0, 0]])[None])
        for agent, move in zip(mpe.world.agents, moves, strict=True):
            mpe._set_action([int(move)], agent, mpe.action_spaces[agent.name])
        mpe.world.step()
        for mpe_agent, agent in zip(mpe.world.agents, vmas_env.scenario.world.agents, strict=True):
            np.testing.assert_allclose(agent.state.pos[0].numpy(), mpe_agent.state.p_pos, atol=1e-4)
            np.testing.assert_allclose(agent.state.vel[0].numpy(), mpe_agent.state.p_vel, atol=1e-4)
    assert vmas_env.scenario.episode_collisions[0] > 0
