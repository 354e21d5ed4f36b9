"""One sub-package per algorithm (AlgorithmConfig + Algorithm + Learner); shared pieces in `rl_algos.common`."""
