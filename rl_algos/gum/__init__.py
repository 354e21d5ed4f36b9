"""Greedy unmixing: a conservative choice between independent and mixed Q."""

from rl_algos.gum.gum import GUM, GUMConfig

__all__ = ["GUM", "GUMConfig"]
