"""VDN: the team value is the sum of the present agents' Qs (Sunehag et al. 2018)."""

from rl_algos.vdn.vdn import VDN, VDNConfig

__all__ = ["VDN", "VDNConfig"]
