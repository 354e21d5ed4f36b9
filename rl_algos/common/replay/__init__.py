"""The replay learners' experience: the array team replay, the conversion from RLlib's episodes, and the ready
batches the learners train on. Imports nothing else from `rl_algos.common`."""
