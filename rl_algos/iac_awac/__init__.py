"""IAC on an AWAC base: independent actor-critic off-policy, per-agent Q critics and advantage-weighted actors."""

from rl_algos.iac_awac.iac_awac import IACAWAC, IACAWACConfig

__all__ = ["IACAWAC", "IACAWACConfig"]
