"""LICA: learning implicit credit assignment through a mixing critic of the agents' action distributions."""

from rl_algos.lica.lica import LICA, LICAConfig

__all__ = ["LICA", "LICAConfig"]
