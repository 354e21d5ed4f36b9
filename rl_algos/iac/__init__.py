"""IAC: independent actor-critic, a shared actor and a shared per-agent critic `V(o_a)` (Foerster et al. 2018)."""

from rl_algos.iac.iac import IAC, IACConfig

__all__ = ["IAC", "IACConfig"]
