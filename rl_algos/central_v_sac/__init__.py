"""Central-V SAC: twin centralised critics over the team embedding, soft actor-critic on the team replay."""

from rl_algos.central_v_sac.central_v_sac import CentralVSAC, CentralVSACConfig

__all__ = ["CentralVSAC", "CentralVSACConfig"]
