"""Pieces shared by the algorithms: configs, the off-policy loop, learners, losses, connectors, evaluation."""

from rl_algos.common.evaluation.team_evaluation import evaluate, random_policy_returns

__all__ = ["evaluate", "random_policy_returns"]
