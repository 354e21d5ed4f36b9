"""IQL: independent Q-learning with a shared agent network."""

from rl_algos.iql.iql import IQL, IQLConfig

__all__ = ["IQL", "IQLConfig"]
