"""The TorchLearner bases: every team learner's (fine-tuning trust region, target networks), the replay learners',
the value learners' and the on-policy learners', with their small shared utilities."""
