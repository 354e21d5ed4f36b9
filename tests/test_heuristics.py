"""Scripted reference policies: spread's and pursuit's heuristics on hand-placed states, and their scores."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ray.rllib.core import Columns

import envs
from envs.heuristics import SPREAD_MOVES, pursuit_move, pursuit_targets, spread_assignment, spread_move
from rl_algos.common.evaluation.team_evaluation import scripted_policy_evaluation

NOOP, LEFT, RIGHT, DOWN, UP = range(5)
PURSUIT_PLUS_X, PURSUIT_STAY = 1, 4  # SISL pursuit's moves: -x, +x, +y, -y, stay


def test_the_assignment_minimises_the_total_distance_not_each_agent_greedily():
    # Agent 0 is nearest landmark 0, but agent 1 is at landmark 0's other side and far from landmark 1:
    # greedy (both to landmark 0) is not an assignment; the least total distance sends agent 0 to landmark 1.
    agents = np.array([[0.0, 0.0], [-1.0, 0.0]])
    landmarks = np.array([[-0.5, 0.0], [1.0, 0.0]])
    # totals: (0->L0, 1->L1) 0.5 + 2.0 = 2.5; (0->L1, 1->L0) 1.0 + 0.5 = 1.5
    np.testing.assert_array_equal(spread_assignment(agents, landmarks), [1, 0])
    # more agents than landmarks: agents 1 and 2 take the landmarks (0.5 + 0.14), agent 0 heads for its nearest
    three = np.array([[0.0, 0.0], [-1.0, 0.0], [0.9, 0.1]])
    np.testing.assert_array_equal(spread_assignment(three, landmarks), [0, 0, 1])


def test_a_resting_agent_moves_toward_its_goal_and_brakes_when_arriving_fast():
    rest = np.zeros(2)
    assert spread_move(np.zeros(2), rest, np.array([1.0, 0.0]), dt=0.1, damping=0.25) == RIGHT
    assert spread_move(np.zeros(2), rest, np.array([0.0, -1.0]), dt=0.1, damping=0.25) == DOWN
    assert spread_move(np.zeros(2), rest, np.zeros(2), dt=0.1, damping=0.25) == NOOP
    # at the goal but moving right at 1 unit/s: the PD error is smallest when pushing left
    assert spread_move(np.zeros(2), np.array([1.0, 0.0]), np.zeros(2), dt=0.1, damping=0.25) == LEFT
    assert SPREAD_MOVES.shape == (5, 2)


def test_the_team_env_puts_each_agents_move_in_its_slot():
    env = envs.make_team_env("spread", 2, 4, slots="random")
    env.reset(seed=3)
    world = env._env.unwrapped.world
    world.landmarks[0].state.p_pos, world.landmarks[1].state.p_pos = np.array([1.0, 0.0]), np.array([-1.0, 0.0])
    for agent, x in zip(world.agents, (0.5, -0.5), strict=True):  # each between the centre and its landmark, at rest
        agent.state.p_pos, agent.state.p_vel = np.array([x, 0.0]), np.zeros(2)
    action = env.heuristic_action()
    slots = env._slots
    assert action[slots[0]] == RIGHT and action[slots[1]] == LEFT
    assert np.count_nonzero(action) == 2, "absent slots get action 0"
    with pytest.raises(ValueError, match="has no scripted heuristic; scenarios with one"):
        envs.make_team_env("multiwalker", 2, 3).heuristic_action()


@pytest.mark.parametrize("n_agents", [3, 6])
def test_the_spread_heuristic_scores_far_above_random_and_occupies_the_landmarks(n_agents):
    env_config = {"scenario": "spread", "n_agents": n_agents, "n_max": 6}
    heuristic = scripted_policy_evaluation(env_config, episodes=20, seed=0, policy="heuristic")
    random = scripted_policy_evaluation(env_config, episodes=20, seed=0, policy="random")
    # measured over 100 episodes: -22.7 / -77.0 (heuristic) against about -80 / -240 (random) at 3 / 6 agents
    assert heuristic["return_mean"] > random["return_mean"] + 40 * n_agents / 3
    assert np.mean(heuristic["task_metrics"]["occupied_landmarks_r02"]) >= 0.9


def open_grid(size: int = 16):
    return lambda x, y: 0 <= x < size and 0 <= y < size


def test_pursuers_take_the_open_cells_around_one_evader_and_step_toward_them():
    pursuers = np.array([[0, 2], [4, 2]])
    evaders = np.array([[2, 2], [12, 12]])  # the far one is left alone
    targets = pursuit_targets(pursuers, evaders, open_grid())
    np.testing.assert_array_equal(targets, [[1, 2], [3, 2]])
    assert pursuit_move(pursuers[0], targets[0]) == PURSUIT_PLUS_X and pursuit_move(pursuers[1], targets[1]) == 0
    assert pursuit_move(np.array([3, 2]), np.array([3, 2])) == PURSUIT_STAY
    # at the grid's edge an evader has 3 open neighbours: the fourth pursuer chases its nearest evader instead
    four = np.array([[0, 0], [1, 5], [0, 5], [6, 6]])
    targets = pursuit_targets(four, np.array([[0, 3]]), open_grid())
    assert {tuple(t) for t in targets[:3]} == {(1, 3), (0, 4), (0, 2)} and tuple(targets[3]) == (0, 3)


def test_the_pursuit_heuristic_catches_the_evaders_random_play_does_not():
    env_config = {"scenario": "pursuit", "n_agents": 4, "n_max": 4}
    heuristic = scripted_policy_evaluation(env_config, episodes=3, seed=0, policy="heuristic")
    random = scripted_policy_evaluation(env_config, episodes=3, seed=0, policy="random")
    # measured over 10 episodes: all but 1% of the evaders caught in 159 steps on average, return +187 (random -194)
    assert np.mean(heuristic["task_metrics"]["evaders_caught"]) >= 0.9
    assert heuristic["return_mean"] > random["return_mean"] + 200


@pytest.mark.parametrize("scenario", ["spread", "vmas:spread"])
def test_a_scripted_team_plays_the_episodes_a_checkpoint_is_evaluated_on(scenario, monkeypatch):
    """`greedy_episodes` (what `evaluate` plays) and `scripted_episodes` with one seed reset the team env the same
    way (the first reset seeded, the next ones drawing on), so a policy and the heuristic meet the same first
    states; `tests/test_team_evaluation.py` checks those are the episodes RLlib's env runner plays."""
    from rl_algos.common.evaluation.team_evaluation import greedy_episodes

    at_6 = {"scenario": scenario, "n_agents": 6, "n_max": 6}
    seeds = []
    team_env = type(envs.make_team_env(**at_6))

    class RecordingTeamEnv(team_env):
        def reset(self, *, seed=None, options=None):
            seeds.append(seed)
            return super().reset(seed=seed, options=options)

    monkeypatch.setattr(envs, "make_team_env", lambda **config: RecordingTeamEnv(envs.parse_env_config(**config)))
    scripted_policy_evaluation(at_6, episodes=3, seed=123, policy="heuristic")
    assert seeds == [123, None, None]
    idle = SimpleNamespace(
        is_stateful=lambda: False,
        forward_inference=lambda batch: {Columns.ACTIONS: torch.zeros(1, 6, dtype=torch.long)},
    )
    greedy_episodes(idle, at_6, episodes=3, seed=123)
    assert seeds == [123, None, None] * 2
