"""Central-V: a shared actor and one centralised critic `V(s)` over the team embedding (Foerster et al. 2018)."""

from rl_algos.central_v.central_v import CentralV, CentralVConfig

__all__ = ["CentralV", "CentralVConfig"]
