"""`rware`: the multi-robot warehouse (Papoudakis et al. 2021, the `rware` package) as a PettingZoo parallel env.

Robots fetch the requested shelves, carry them to the goal cells at the bottom of the warehouse and bring them
back; a delivery of a requested shelf earns the robot that made it 1 (RWARE's individual reward) and a new shelf
is requested. Each robot sees a fixed window of `2 * sensor_range + 1` cells around it (RWARE's flattened vector
observation: its position, direction and load, then per cell whether a robot, its direction, a shelf and a
request are there), so the observation keeps its size as the team grows: a team-size transfer task.
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from pettingzoo import ParallelEnv
from rware.warehouse import RewardType, Warehouse

# RWARE's named sizes (its registered `rware-<size>-...` tasks): shelf rows, shelf columns; columns 8 shelves high.
SIZES = {"tiny": (1, 3), "small": (2, 3), "medium": (2, 5), "large": (3, 5)}


class RwareEnv(ParallelEnv):
    """RWARE's `Warehouse` with `n_agents` robots: tuple observations and actions as PettingZoo dicts.

    Options: `size` (tiny, small, medium, large), `request_queue` (shelves requested at once; None: one per robot,
    RWARE's default difficulty), `sensor_range` (1: a 3 x 3 window), `max_cycles` (500: the episode is truncated
    there, a time limit), `max_inactivity_steps` (None; else the episode terminates after that many steps without
    a delivery). `deliveries` counts the episode's deliveries so far (the task metric reads it).
    """

    metadata = {"name": "rware_v2", "render_modes": []}

    def __init__(
        self,
        n_agents: int,
        size: str = "tiny",
        request_queue: int | None = None,
        sensor_range: int = 1,
        max_cycles: int = 500,
        max_inactivity_steps: int | None = None,
    ):
        shelf_rows, shelf_columns = SIZES[size]
        self.max_cycles = max_cycles
        self.warehouse = Warehouse(
            shelf_columns=shelf_columns,
            column_height=8,
            shelf_rows=shelf_rows,
            n_agents=n_agents,
            msg_bits=0,
            sensor_range=sensor_range,
            request_queue_size=n_agents if request_queue is None else request_queue,
            max_inactivity_steps=max_inactivity_steps,
            max_steps=max_cycles,
            reward_type=RewardType.INDIVIDUAL,
        )
        self.possible_agents = [f"robot_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self.deliveries = 0
        self.steps = 0

    def observation_space(self, agent: str) -> spaces.Box:
        return self.warehouse.observation_space[0]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.warehouse.action_space[0]

    def reset(self, seed: int | None = None, options: dict | None = None):
        observations, _ = self.warehouse.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self.deliveries = self.steps = 0
        return dict(zip(self.agents, observations, strict=True)), {agent: {} for agent in self.agents}

    def step(self, actions: dict[str, Any]):
        joint = tuple(int(actions[agent]) for agent in self.agents)
        observations, rewards, done, _, _ = self.warehouse.step(joint)
        self.steps += 1
        self.deliveries += int(round(sum(rewards)))  # individual rewards: 1 per delivery, to the robot that made it
        truncated = done and self.steps >= self.max_cycles
        agents = self.agents
        if done:
            self.agents = []
        return (
            dict(zip(agents, observations, strict=True)),
            {agent: float(reward) for agent, reward in zip(agents, rewards, strict=True)},
            {agent: done and not truncated for agent in agents},
            {agent: truncated for agent in agents},
            {agent: {} for agent in agents},
        )

    def render(self) -> None:
        return None
