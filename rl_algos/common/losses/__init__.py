"""Loss pieces in plain torch, one equation per function: value targets and TD losses, actor-critic targets and
losses, greedy unmixing's weighting. Imports nothing else from `rl_algos.common`."""
