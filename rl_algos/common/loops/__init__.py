"""The training loops (`Algorithm.training_step`): the replay learners' off-policy loop, the on-policy rollout loop
and its array env runner, what every team algorithm shares, and the divergence guard."""
