"""One-step cooperative matrix games as PettingZoo ParallelEnvs (climbing, penalty)."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

# Claus & Boutilier (1998). Rows/columns are the two agents' actions; the payoff is shared.
CLIMBING = np.array([[11.0, -30.0, 0.0], [-30.0, 7.0, 6.0], [0.0, 0.0, 5.0]], dtype=np.float32)


def penalty_payoff(k: float) -> np.ndarray:
    """The penalty game: two optimal joint actions (10) and a miscoordination penalty `k` between them."""
    return np.array([[10.0, 0.0, k], [0.0, 2.0, 0.0], [k, 0.0, 10.0]], dtype=np.float32)


GAMES = ("climbing", "penalty")


def payoff_matrix(game: str, k: float) -> np.ndarray:
    """The symmetric 3x3 payoff matrix of `game` (`k` is used by the penalty game only)."""
    if game == "climbing":
        return CLIMBING
    if game == "penalty":
        return penalty_payoff(k)
    raise ValueError(f"unknown matrix game {game!r}; known games: {', '.join(GAMES)}")


def team_payoff(payoff: np.ndarray, actions: np.ndarray) -> float:
    """Mean over agent pairs of `payoff[u_i, u_j]`: the classic game for 2 agents, and for N agents a game
    whose optima (everyone on the same optimal action) and miscoordination penalties are the 2-agent ones."""
    pair_payoffs = payoff[np.ix_(actions, actions)]  # [N, N]
    return float(pair_payoffs[np.triu_indices(len(actions), k=1)].mean())


class MatrixGameEnv(ParallelEnv):
    """A one-step common-payoff game for `n_agents >= 2`: every agent observes a constant 1, picks one of
    three actions, and receives the team payoff `team_payoff(payoff, actions)`; then the episode ends."""

    metadata = {"name": "matrix_game_v0", "render_modes": []}

    def __init__(self, n_agents: int = 2, game: str = "climbing", k: float = -100.0):
        if n_agents < 2:
            raise ValueError(f"matrix games need at least 2 agents, got n_agents={n_agents}")
        self.payoff = payoff_matrix(game, k)
        self.possible_agents = [f"agent_{i}" for i in range(n_agents)]
        self.agents: list[str] = []
        self._observation = np.ones(1, dtype=np.float32)
        self._observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self._action_space = spaces.Discrete(self.payoff.shape[0])
        self.last_payoff: float | None = None  # the team payoff of the last step (its task metric's input)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        return self._action_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.agents = list(self.possible_agents)
        self.last_payoff = None
        return {a: self._observation.copy() for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict):
        joint = np.array([int(actions[a]) for a in self.agents])
        reward = team_payoff(self.payoff, joint)
        self.last_payoff = reward
        agents, self.agents = self.agents, []
        return (
            {a: self._observation.copy() for a in agents},
            {a: reward for a in agents},
            {a: True for a in agents},
            {a: False for a in agents},
            {a: {} for a in agents},
        )
