"""IPPO: PPO with a shared per-agent critic (de Witt et al. 2020); trained by MAPPO's learner."""

from rl_algos.ippo.ippo import IPPO, IPPOConfig

__all__ = ["IPPO", "IPPOConfig"]
