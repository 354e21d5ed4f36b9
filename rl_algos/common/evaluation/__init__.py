"""Greedy evaluation of a checkpoint at any team size, the scripted teams' returns, learning curves and the lower-
bound check (`q_bias`)."""
