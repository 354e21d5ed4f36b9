"""The team policies: the RLlib RLModules (`team_q_module`, `gum_module`, `actor_critic_module`, `sac_module`,
`maddpg_module`) with the pieces bound to RLlib (`team_actor`'s action distributions, `pretrained_reference`,
`train_mode`, `reused_agent_ids`), built from the pure-torch networks in `policies.networks`. Each module reads its
options from `model_config`, which the algorithm's config fills (`config.model_config`); the modules keep no
defaults of their own.

Imports neither `rl_algos` nor `experiments` (`tests/test_layering.py`).
"""
