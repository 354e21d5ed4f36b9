"""QMIX: a monotonic mixing network, its weights from hypernetworks over a team embedding (Rashid et al. 2018)."""

from rl_algos.qmix.qmix import QMIX, QMIXConfig

__all__ = ["QMIX", "QMIXConfig"]
