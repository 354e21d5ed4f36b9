"""AlgorithmConfig pieces: the options every team algorithm shares (`team`), and the option groups an algorithm's
config is built from (replay, recurrent agents, networks, greedy unmixing, value learning, actor-critics), and the
fine-tuning set-up."""
