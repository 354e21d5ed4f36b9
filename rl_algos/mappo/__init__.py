"""MAPPO: PPO with a centralised critic over the team embedding (Yu et al. 2022); its learner also trains IPPO."""

from rl_algos.mappo.mappo import MAPPO, MAPPOConfig, TeamPPOConfig

__all__ = ["MAPPO", "MAPPOConfig", "TeamPPOConfig"]
