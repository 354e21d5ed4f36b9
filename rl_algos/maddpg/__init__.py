"""MADDPG (Lowe et al. 2017) in TD3 style (Fujimoto et al. 2018) for a parameter-shared team."""

from rl_algos.maddpg.maddpg import MADDPG, MADDPGConfig

__all__ = ["MADDPG", "MADDPGConfig"]
