"""What the report's tables and figures are made of: a run (algorithm, team embedding, training size) and a cell
(a run evaluated at a team size in one phase); scripted teams are runs of their own."""

from __future__ import annotations

from typing import NamedTuple

SCRIPTED_PHASES = ("random", "heuristic")  # rows of scripted teams (`algo` and `phase` the policy, embedding "-")


class Run(NamedTuple):
    """What a table row and a figure's line are of: an algorithm with a team embedding trained at a team size (its
    `train_agents` label: `3`, or `2-3-4` for mixed sizes); a scripted team is `(policy, "-", "-")`."""

    algo: str
    embedding: str
    train: str

    def label(self, trained_at: bool = False) -> str:
        """`algo / embedding`, and `, trained at <train>` with `trained_at` (several training sizes in view)."""
        return f"{self.algo} / {self.embedding}" + (f", trained at {self.train}" if trained_at else "")


class Cell(NamedTuple):
    """A summary cell: a run (`Run`) evaluated at `n` agents in one phase."""

    algo: str
    embedding: str
    train: str
    n: int
    phase: str

    @property
    def run(self) -> Run:
        return Run(self.algo, self.embedding, self.train)

    @classmethod
    def of(cls, row: dict) -> Cell:
        """The cell of a `transfer.csv` or `transfer_episodes.csv` row (a scripted team's train size is "-")."""
        train = "-" if row["phase"] in SCRIPTED_PHASES else str(row["train_agents"])
        return cls(row["algo"], row["embedding"], train, int(row["eval_agents"]), row["phase"])

    @classmethod
    def scripted(cls, policy: str, n: int) -> Cell:
        """The cell of the scripted team `policy` (`random`, `heuristic`) at `n` agents."""
        return cls(policy, "-", "-", n, policy)
