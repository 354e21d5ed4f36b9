"""Scripted reference policies: what a hand-written team scores on a task, so that a learned score has a yardstick.

A heuristic reads the scenario's own state (as the task metrics do, `envs.task_metrics`) and returns one action per
acting agent, `{agent_name: action}`; `TeamEnv.heuristic_action()` puts them into the team's slots. Scenarios
without one say so (`Scenario.heuristic` is None).

- spread (MPE `simple_spread`, discrete moves): the agents take the landmark assignment of least total distance
  (the Hungarian method, `scipy.optimize.linear_sum_assignment`), and each picks the move whose one-step outcome
  best reduces a PD error toward its landmark, `|p' - goal + kd v'|`, on MPE's own integrator (position from the
  current velocity, then damping and the move's acceleration; `vmas:spread` integrates the same way). No collision
  avoidance.
- pursuit (SISL, grid moves): a coordinated chase. An evader is caught when pursuers hold every open cell next to
  it, so the team picks one evader (the one nearest to the pursuers in total), its open neighbouring cells become
  targets, the pursuers take the target assignment of least total Manhattan distance (pursuers left over chase
  their nearest evader), and each steps toward its target along the axis with the larger gap.
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


# SISL pursuit's moves (`DiscreteAgent.motion_range`): -x, +x, +y, -y, stay
PURSUIT_MOVES = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [0, 0]])


def pursuit_move(position: np.ndarray, target: np.ndarray) -> int:
    """The grid move from `position` toward `target` ([2] each) along the axis with the larger gap (x on a tie);
    stay when there."""
    gap = np.asarray(target) - np.asarray(position)
    axis = int(abs(gap[1]) > abs(gap[0]))
    if gap[axis] == 0:
        return len(PURSUIT_MOVES) - 1
    step = np.zeros(2, dtype=int)
    step[axis] = np.sign(gap[axis])
    return int(np.flatnonzero((PURSUIT_MOVES == step).all(axis=1))[0])


def pursuit_targets(pursuers: np.ndarray, evaders: np.ndarray, open_cell) -> np.ndarray:
    """Each pursuer's target cell ([P, 2] -> [P, 2]): the open neighbours of the evader nearest to the pursuers in
    total (Manhattan), assigned with least total distance; pursuers left over target their nearest evader; with no
    evader left, their own cell. `open_cell(x, y)` says whether a cell is inside the grid and free of walls."""
    if len(evaders) == 0:
        return pursuers.copy()
    distances = np.abs(pursuers[:, None] - evaders[None]).sum(-1)  # [P, E]
    chosen = evaders[distances.sum(axis=0).argmin()]
    cells = np.array([c for c in chosen + PURSUIT_MOVES[:4] if open_cell(*c)]).reshape(-1, 2)
    targets = evaders[distances.argmin(axis=1)]
    if len(cells):
        rows, cols = linear_sum_assignment(np.abs(pursuers[:, None] - cells[None]).sum(-1))
        targets[rows] = cells[cols]
    return targets


def pursuit_heuristic(env: ParallelEnv) -> dict[str, int]:
    """Each pursuer's step toward its target of the coordinated chase (`pursuit_targets`)."""
    base = env.unwrapped.env
    layer, evader_layer, walls = base.pursuer_layer, base.evader_layer, base.map_matrix
    pursuers = np.array([layer.get_position(i) for i in range(layer.n_agents())]).reshape(-1, 2)
    evaders = np.array([evader_layer.get_position(i) for i in range(evader_layer.n_agents())]).reshape(-1, 2)

    def open_cell(x: int, y: int) -> bool:
        return 0 <= x < walls.shape[0] and 0 <= y < walls.shape[1] and walls[x, y] != -1

    targets = pursuit_targets(pursuers, evaders, open_cell)
    return {agent: pursuit_move(pursuers[i], targets[i]) for i, agent in enumerate(env.unwrapped.possible_agents)}
