"""Pieces shared by the algorithms: configs, the off-policy loop, learners, losses, connectors, evaluation."""
