"""Task metrics: what an episode achieved, read from the scenario's own state (not re-derived from observations).

Each scenario may name a tracker class: `TeamEnv` builds one at every reset, calls `step(env)` after every env step,
and puts `result(env)` into the last step's `infos["task_metrics"]` (a dict of floats). `env` is the scenario's
PettingZoo parallel env.

VMAS tasks (`envs.vmas_env`) simulate a batch of worlds at once, so their trackers are batched: `result(env)` reads
every world of the VMAS env and returns a dict of `[num_worlds]` arrays; the vector env keeps the rows of the worlds
whose episode ended.
"""

from __future__ import annotations

import numpy as np
from pettingzoo import ParallelEnv

OCCUPIED_DISTANCE = 0.1  # MPE's benchmark: a landmark is occupied when an agent is within 0.1 of it
# Wider radii, as TransfQMix reports occupancy (0.1-0.5) beside MPE's: metric name -> radius
OCCUPIED_RADII = {"occupied_landmarks": OCCUPIED_DISTANCE, "occupied_landmarks_r02": 0.2, "occupied_landmarks_r03": 0.3}


class SpreadMetrics:
    """Spread (MPE `simple_spread`): `occupied_landmarks`, the fraction of landmarks with an agent within 0.1 at the
    last step (MPE's `benchmark_data`), and the same within 0.2 and 0.3 (`occupied_landmarks_r02`, `_r03`: TransfQMix
    counts radii 0.1-0.5 without saying which its table uses); `min_dist_sum`, the sum over landmarks of the nearest
    agent's distance at the last step; `collisions`, the pairs of agents overlapping (distance below the sum of their
    sizes), summed over the episode's steps."""

    names = (*OCCUPIED_RADII, "min_dist_sum", "collisions")

    def __init__(self, env: ParallelEnv):
        self.collisions = 0

    def step(self, env: ParallelEnv) -> None:
        agents = env.unwrapped.world.agents
        positions = np.array([agent.state.p_pos for agent in agents])  # [N, 2]
        sizes = np.array([agent.size for agent in agents])  # [N]
        distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)  # [N, N]
        overlapping = distances < sizes[:, None] + sizes[None]
        self.collisions += int(np.triu(overlapping, k=1).sum())

    def result(self, env: ParallelEnv) -> dict[str, float]:
        world = env.unwrapped.world
        agents = np.array([agent.state.p_pos for agent in world.agents])  # [N, 2]
        landmarks = np.array([landmark.state.p_pos for landmark in world.landmarks])  # [L, 2]
        nearest = np.linalg.norm(landmarks[:, None] - agents[None], axis=-1).min(axis=1)  # [L]
        return {
            **{name: float((nearest < radius).mean()) for name, radius in OCCUPIED_RADII.items()},
            "min_dist_sum": float(nearest.sum()),
            "collisions": float(self.collisions),
        }


class PursuitMetrics:
    """Pursuit (SISL): `evaders_caught`, the fraction of evaders caught by the end; `steps_to_catch_all`, the step at
    which the last evader was caught, or the episode's length when some escaped."""

    names = ("evaders_caught", "steps_to_catch_all")

    def __init__(self, env: ParallelEnv):
        self.steps = 0
        self.all_caught_at: int | None = None

    def step(self, env: ParallelEnv) -> None:
        self.steps += 1
        if self.all_caught_at is None and env.unwrapped.env.evaders_gone.all():
            self.all_caught_at = self.steps

    def result(self, env: ParallelEnv) -> dict[str, float]:
        caught = env.unwrapped.env.evaders_gone
        return {
            "evaders_caught": float(caught.mean()),
            "steps_to_catch_all": float(self.all_caught_at if self.all_caught_at is not None else self.steps),
        }


class MultiwalkerMetrics:
    """Multiwalker (SISL): `package_distance`, how far the package moved forward (x) over the episode;
    `package_fell`, 1.0 when it touched the ground."""

    names = ("package_distance", "package_fell")

    def __init__(self, env: ParallelEnv):
        self.start_x = float(env.unwrapped.env.package.position.x)

    def step(self, env: ParallelEnv) -> None:
        pass

    def result(self, env: ParallelEnv) -> dict[str, float]:
        base = env.unwrapped.env
        return {
            "package_distance": float(base.package.position.x) - self.start_x,
            "package_fell": float(bool(base.game_over)),
        }


class MatrixMetrics:
    """Matrix games: `optimal_rate`, 1.0 when the joint action earned the game's best payoff."""

    names = ("optimal_rate",)

    def __init__(self, env: ParallelEnv):
        pass

    def step(self, env: ParallelEnv) -> None:
        pass

    def result(self, env: ParallelEnv) -> dict[str, float]:
        return {"optimal_rate": float(env.last_payoff >= env.payoff.max())}


class NavigationMetrics:
    """VMAS navigation, batched over worlds: `agents_on_goal`, the fraction of agents within their goal's radius at the
    last step (the task's own success test; the episode terminates when it is 1)."""

    names = ("agents_on_goal",)

    @staticmethod
    def result(env) -> dict[str, np.ndarray]:
        import torch

        agents = env.scenario.world.agents
        on_goal = torch.stack(
            [torch.linalg.vector_norm(a.state.pos - a.goal.state.pos, dim=-1) < a.goal.shape.radius for a in agents], -1
        )  # [E, N]
        return {"agents_on_goal": on_goal.float().mean(-1).cpu().numpy()}


class RwareMetrics:
    """RWARE: `deliveries`, the requested shelves delivered in the episode (`RwareEnv.deliveries`), and
    `deliveries_per_agent`, the same per robot, the measure that stays comparable across team sizes."""

    names = ("deliveries", "deliveries_per_agent")

    def __init__(self, env: ParallelEnv):
        pass

    def step(self, env: ParallelEnv) -> None:
        pass

    def result(self, env: ParallelEnv) -> dict[str, float]:
        base = env.unwrapped
        return {"deliveries": float(base.deliveries), "deliveries_per_agent": base.deliveries / base.max_num_agents}
