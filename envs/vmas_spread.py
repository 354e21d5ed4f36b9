"""`vmas:spread`: the PettingZoo `spread` task (mpe2's `simple_spread_v3` with `num_agent_neighbors` /
`num_landmark_neighbors`) rebuilt as a VMAS scenario, so that hundreds of worlds step in one batched call.

The same as `spread` (`envs.scenarios`): N agents of radius 0.15 and N landmarks placed uniformly in [-1, 1]^2,
velocities zero; 25 steps; MPE's physics (dt 0.1, damping 0.25, contact forces, and its explicit integrator: the agent
moves with the previous velocity, then the velocity takes the step's force), so that from the same state under
the same actions the agents follow mpe2's trajectories; each agent's reward `(1 - local_ratio) * global +
local_ratio * local`, `global` minus the sum over landmarks of the nearest agent's distance, `local` minus the number
of other agents it overlaps; the observation `[own velocity, own position, the k nearest landmarks' and m nearest
agents' relative positions, m silent agents' zero messages]`, nearest first and zero-padded (18 numbers with
`neighbors=(2, 3)`, mpe2's layout and size at every team size, so a discrete-action policy runs on either); MPE's five
discrete moves (none, -x, +x, -y, +y) as accelerations of 5. The same task metrics (`SpreadMetrics`) and scripted
heuristic (`envs.heuristics`).

Where it differs: continuous actions are VMAS's 2-d force in [-1, 1]^2 (times 5), not mpe2's five non-negative
components; the worlds compute in float32 (mpe2: float64); and the initial positions come from torch's random
stream (VMAS's seeding), not numpy's, so the same seed places a different first state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from vmas.simulator.core import Agent, Landmark, Sphere, World
from vmas.simulator.dynamics.common import Dynamics
from vmas.simulator.scenario import BaseScenario

from envs.heuristics import SPREAD_ACCEL, SPREAD_MOVES, spread_assignment, spread_move
from envs.scenarios import check_neighbors
from envs.task_metrics import OCCUPIED_RADII
from envs.vmas_tasks import make_vmas_env

AGENT_RADIUS = 0.15  # mpe2's agent.size
MPE_DT, MPE_DAMPING = 0.1, 0.25  # mpe2's world.dt and world.damping (VMAS's defaults too, set here explicitly)
MESSAGE_DIM = 2  # mpe2's world.dim_c: each observed agent's (silent, zero) message
# VMAS decodes a discrete action a of n = 5 levels into u in {-2, -1, 0, 1, 2} (u_range 2): a = 0 -> 0, 1 -> -2,
# 2 -> -1, 3 -> 1, 4 -> 2. MOVE_OF_LEVEL[u + 2] recovers the MPE move a.
MOVE_OF_LEVEL = torch.tensor([1, 2, 0, 3, 4])


class MPEMoves(Dynamics):
    """MPE's discrete moves as forces: move `a` (none, -x, +x, -y, +y) pushes with `SPREAD_MOVES[a] * 5`."""

    @property
    def needed_action_size(self) -> int:
        return 1

    def process_action(self) -> None:
        level = self.agent.action.u[:, 0].round().long() + 2  # [E]
        moves = MOVE_OF_LEVEL.to(level.device)[level]
        forces = torch.as_tensor(SPREAD_MOVES * SPREAD_ACCEL, dtype=torch.float32, device=level.device)
        self.agent.state.force = forces[moves]  # [E, 2]


class MPEWorld(World):
    """VMAS's world integrated as MPE's (`mpe2 World.integrate_state`): the position moves with the previous
    velocity, then the velocity is damped and takes the step's force. VMAS's own integrator is semi-implicit (the new
    velocity moves the agent in the same step), which makes a move show in the position one step earlier and
    separates overlapping agents within one step: over the same 100 first states at 6 agents, the heuristic scored
    -64.1 with VMAS's integrator and -75.0 with this one (mpe2's spread: -77.0), so the two were not one task.
    Agents here neither rotate nor have a speed limit, as in spread."""

    def _integrate_state(self, entity, substep: int) -> None:
        if not entity.movable:
            return
        entity.state.pos = entity.state.pos + entity.state.vel * self.dt
        entity.state.vel = entity.state.vel * (1 - MPE_DAMPING) + self.forces_dict[entity] / entity.mass * self.dt


class SpreadScenario(BaseScenario):
    """VMAS scenario of `spread`; `make_world` options: `n_agents`, `agent_neighbors` (m), `landmark_neighbors`
    (k), `local_ratio`, `mpe_moves` (True: MPE's five discrete moves; False: VMAS's holonomic force, for continuous
    actions)."""

    def make_world(self, batch_dim: int, device: torch.device, **kwargs: Any) -> World:
        n_agents = kwargs.pop("n_agents", 3)
        self.agent_neighbors = kwargs.pop("agent_neighbors", 2)
        self.landmark_neighbors = kwargs.pop("landmark_neighbors", 3)
        self.local_ratio = kwargs.pop("local_ratio", 0.5)
        mpe_moves = kwargs.pop("mpe_moves", True)
        if kwargs:
            raise ValueError(f"vmas:spread's world takes no option(s) {', '.join(sorted(kwargs))}")
        world = MPEWorld(batch_dim=batch_dim, device=device, dt=MPE_DT, drag=MPE_DAMPING)  # contact force 100: MPE's
        for i in range(n_agents):
            moves = {"dynamics": MPEMoves(), "discrete_action_nvec": [5], "u_range": 2.0}
            force = {"u_range": 1.0, "u_multiplier": SPREAD_ACCEL}
            world.add_agent(
                Agent(
                    name=f"agent_{i}",
                    collide=True,
                    rotatable=False,
                    shape=Sphere(AGENT_RADIUS),
                    **(moves if mpe_moves else force),
                )
            )
        for i in range(n_agents):
            world.add_landmark(Landmark(name=f"landmark {i}", collide=False))
        self.agent_rewards = torch.zeros(batch_dim, n_agents, device=device)  # [E, N], of the last step
        self.episode_collisions = torch.zeros(batch_dim, device=device)  # [E]: overlapping pairs, summed over steps
        return world

    def reset_world_at(self, env_index: int | None = None) -> None:
        worlds = self.world.batch_dim if env_index is None else 1
        for entity in self.world.agents + self.world.landmarks:
            position = torch.empty(worlds, self.world.dim_p, device=self.world.device).uniform_(-1.0, 1.0)
            entity.set_pos(position, batch_index=env_index)
        if env_index is None:
            self.episode_collisions.zero_()
        else:
            self.episode_collisions[env_index] = 0.0

    def positions(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Agents' and landmarks' positions, `[E, N, 2]` and `[E, L, 2]`."""
        agents = torch.stack([agent.state.pos for agent in self.world.agents], 1)
        landmarks = torch.stack([landmark.state.pos for landmark in self.world.landmarks], 1)
        return agents, landmarks

    def post_step(self) -> None:
        agents, landmarks = self.positions()
        nearest = torch.cdist(landmarks, agents).min(dim=-1).values  # [E, L]
        global_reward = -nearest.sum(-1)  # [E]
        overlapping = torch.cdist(agents, agents) < 2 * AGENT_RADIUS  # [E, N, N]
        overlapping &= ~torch.eye(len(self.world.agents), dtype=torch.bool, device=agents.device)
        local_reward = -overlapping.sum(-1).float()  # [E, N]: minus the agents each one overlaps
        self.agent_rewards = (1 - self.local_ratio) * global_reward[:, None] + self.local_ratio * local_reward
        self.episode_collisions += overlapping.sum((-2, -1)).float() / 2

    def reward(self, agent: Agent) -> torch.Tensor:
        return self.agent_rewards[:, self.world.agents.index(agent)]

    def observation(self, agent: Agent) -> torch.Tensor:
        agents, landmarks = self.positions()
        own = self.world.agents.index(agent)
        others = torch.cat([agents[:, :own], agents[:, own + 1 :]], 1)  # [E, N-1, 2]
        parts = [agent.state.vel, agent.state.pos]
        parts += nearest_relative_positions(landmarks, agent.state.pos, self.landmark_neighbors)
        parts += nearest_relative_positions(others, agent.state.pos, self.agent_neighbors)
        parts.append(torch.zeros(agents.shape[0], self.agent_neighbors * MESSAGE_DIM, device=agents.device))
        return torch.cat(parts, dim=-1)


def nearest_relative_positions(entities: torch.Tensor, position: torch.Tensor, count: int) -> list[torch.Tensor]:
    """The `count` nearest of `entities` `[E, K, 2]` relative to `position` `[E, 2]`, nearest first, as one `[E, 2]`
    tensor per slot; slots beyond K are zero (mpe2's `padded_relative_positions`)."""
    relative = entities - position[:, None]  # [E, K, 2]
    order = relative.norm(dim=-1).argsort(dim=-1)[:, :count]  # [E, min(K, count)]
    nearest = relative.gather(1, order[..., None].expand(-1, -1, 2))
    slots = list(nearest.unbind(1))
    return slots + [torch.zeros_like(position)] * (count - len(slots))


class VmasSpreadMetrics:
    """`SpreadMetrics` batched over VMAS worlds: landmarks occupied within 0.1 / 0.2 / 0.3 and `min_dist_sum` at the
    last step, `collisions` (overlapping pairs summed over the episode's steps)."""

    names = (*OCCUPIED_RADII, "min_dist_sum", "collisions")

    @staticmethod
    def result(env) -> dict[str, np.ndarray]:
        scenario = env.scenario
        agents, landmarks = scenario.positions()
        nearest = torch.cdist(landmarks, agents).min(dim=-1).values  # [E, L]
        return {
            **{name: (nearest < radius).float().mean(-1).cpu().numpy() for name, radius in OCCUPIED_RADII.items()},
            "min_dist_sum": nearest.sum(-1).cpu().numpy(),
            "collisions": scenario.episode_collisions.cpu().numpy().copy(),
        }


def vmas_spread_heuristic(env) -> np.ndarray:
    """The spread heuristic (`envs.heuristics.spread_heuristic`) in every world of a VMAS env: `[E, N]` moves."""
    agents, landmarks = (p.cpu().numpy() for p in env.scenario.positions())
    velocities = torch.stack([agent.state.vel for agent in env.scenario.world.agents], 1).cpu().numpy()  # [E, N, 2]
    moves = np.zeros(agents.shape[:2], np.int64)
    for e in range(agents.shape[0]):
        goals = spread_assignment(agents[e], landmarks[e])
        for i, goal in enumerate(goals):
            moves[e, i] = spread_move(agents[e, i], velocities[e, i], landmarks[e, goal], MPE_DT, MPE_DAMPING)
    return moves


def check_vmas_spread_options(options: Mapping[str, Any]) -> None:
    """`ValueError` for bad `vmas:spread` options (`neighbors`, `local_ratio`; `max_steps` and `device` are checked
    as for every VMAS task)."""
    check_neighbors("vmas:spread", options["neighbors"], full_observation=False)
    ratio = options["local_ratio"]
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 <= ratio <= 1.0:
        raise ValueError(f"vmas:spread option local_ratio={ratio!r} must be a number in [0, 1]")


def build_vmas_spread(
    n_agents: int,
    continuous_actions: bool,
    *,
    num_envs: int,
    max_steps: int,
    device: str,
    neighbors: tuple[int, int],
    local_ratio: float,
):
    """`num_envs` worlds of `vmas:spread` with `n_agents` agents, as one VMAS env."""
    agent_neighbors, landmark_neighbors = neighbors
    return make_vmas_env(
        SpreadScenario(),
        n_agents,
        continuous_actions,
        num_envs=num_envs,
        max_steps=max_steps,
        device=device,
        agent_neighbors=agent_neighbors,
        landmark_neighbors=landmark_neighbors,
        local_ratio=local_ratio,
        mpe_moves=not continuous_actions,
    )
