"""Scripted reference policies: what a hand-written team scores on a task, so that a learned score has a yardstick.

A heuristic reads the scenario's own state (as the task metrics do, `envs.task_metrics`) and returns one action per
acting agent, `{agent_name: action}`; `TeamEnv.heuristic_action()` puts them into the team's slots. Scenarios
without one say so (`Scenario.heuristic` is None).

- spread (MPE `simple_spread`, discrete moves): the agents take the landmark assignment of least total distance
  (the Hungarian method, `scipy.optimize.linear_sum_assignment`), and each picks the move whose one-step outcome
  best reduces a PD error toward its landmark, `|p' - goal + kd v'|`, on MPE's own integrator (position from the
  current velocity, then damping and the move's acceleration). No collision avoidance.
"""

from __future__ import annotations

import numpy as np
from pettingzoo import ParallelEnv
from scipy.optimize import linear_sum_assignment

# MPE's discrete moves (mpe2 `_set_action`): no-op, -x, +x, -y, +y, as unit accelerations
SPREAD_MOVES = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
SPREAD_ACCEL = 5.0  # mpe2's action sensitivity for agents without their own `accel`
SPREAD_KD = 0.2  # the velocity term's weight (s), the best of 0.1-1.0 measured over 100 episodes at 3 and 6 agents


def spread_assignment(agent_positions: np.ndarray, landmark_positions: np.ndarray) -> np.ndarray:
    """For each agent, the landmark index it heads for: the assignment of least total distance ([N, 2], [L, 2] ->
    [N]; with more agents than landmarks, the unassigned ones head for their nearest landmark)."""
    distances = np.linalg.norm(agent_positions[:, None] - landmark_positions[None], axis=-1)  # [N, L]
    agents, landmarks = linear_sum_assignment(distances)
    goals = distances.argmin(axis=1)
    goals[agents] = landmarks
    return goals


def spread_move(position: np.ndarray, velocity: np.ndarray, goal: np.ndarray, dt: float, damping: float) -> int:
    """The discrete move minimising `|p' - goal + kd v'|` after one step of MPE's integrator from (p, v)."""
    next_position = position + velocity * dt  # MPE moves with the current velocity first
    next_velocity = velocity * (1.0 - damping) + SPREAD_MOVES * SPREAD_ACCEL * dt  # [5, 2]
    errors = np.linalg.norm(next_position - goal + SPREAD_KD * next_velocity, axis=-1)  # [5]
    return int(errors.argmin())


def spread_heuristic(env: ParallelEnv) -> dict[str, int]:
    """Each acting agent's move toward its landmark of the least-total-distance assignment."""
    world = env.unwrapped.world
    agents = world.agents
    positions = np.array([agent.state.p_pos for agent in agents])
    landmarks = np.array([landmark.state.p_pos for landmark in world.landmarks])
    goals = spread_assignment(positions, landmarks)
    return {
        agent.name: spread_move(agent.state.p_pos, agent.state.p_vel, landmarks[goal], world.dt, world.damping)
        for agent, goal in zip(agents, goals, strict=True)
    }
