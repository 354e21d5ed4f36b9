"""COMA: counterfactual multi-agent policy gradients over a team-embedding critic (Foerster et al. 2018)."""

from rl_algos.coma.coma import COMA, COMAConfig

__all__ = ["COMA", "COMAConfig"]
