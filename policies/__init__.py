"""Torch networks and RLlib RLModules: shared agent networks, team embeddings, mixers, critics.

Plain torch, testable without Ray; imports neither `rl_algos` nor `experiments`.
"""
