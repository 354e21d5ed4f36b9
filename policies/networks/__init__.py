"""Pure-torch networks of the team policies: the shared agent network, agent ids, team embeddings, mixers, critics,
behaviour models and masked reductions. Plain torch and PyTorch Geometric, testable without Ray; nothing here
imports RLlib, `rl_algos` or `experiments` (`tests/test_layering.py`)."""
