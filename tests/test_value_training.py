"""Short RLlib runs of IQL / VDN / QMIX: train, checkpoint, evaluate at a larger team; config validation."""

import numpy as np
import pytest
import torch

import rl_algos
from rl_algos.common import evaluate, random_policy_returns
from rl_algos.common.training import budget_config, train_and_evaluate

SPREAD = {"scenario": "spread", "n_agents": 3, "n_max": 8, "max_cycles": 10}


def quick_config(algo, env_config, **training):
    return (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1, rollout_fragment_length=20)
        # small, frequent updates (5 in a 40-step iteration), so one iteration trains: these tests check mechanics
        .training(**{"learning_starts": 20, "train_batch_size_per_learner": 16, "train_ratio": 0.25, **training})
        .reporting(min_sample_timesteps_per_iteration=40)
        .debugging(seed=0)
    )


def learner_module(algo):
    return algo.learner_group._learner.module["default_policy"]


@pytest.mark.parametrize(
    "algo, embedding",
    [("iql", "concat"), ("vdn", "concat"), ("qmix", "concat"), ("qmix", "mean"), ("qmix", "graph")],
)
def test_trains_checkpoints_and_evaluates_at_a_larger_team(ray_session, tmp_path, algo, embedding):
    trainer = quick_config(
        algo, SPREAD, team_embedding=embedding, munchausen={} if algo == "vdn" else None
    ).build_algo()
    before = {k: v.clone() for k, v in learner_module(trainer).state_dict().items()}
    for _ in range(2):
        result = trainer.train()
    learner_results = result["learners"]["default_policy"]
    assert np.isfinite(learner_results["total_loss"])
    changed = [k for k, v in learner_module(trainer).state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("agent.") for k in changed)
    assert algo != "qmix" or any(k.startswith("mixer.") for k in changed)  # IQL and VDN have no mixer weights
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()

    larger = evaluate(checkpoint, {**SPREAD, "n_agents": 6}, episodes=2, seed=3)
    assert larger["episodes"] == 2 and larger["n_agents"] == 6 and larger["episode_len_mean"] == 10
    assert np.isfinite(larger["return_mean"])
    assert len(larger["q_bias"]) == 2 and np.isfinite(larger["q_bias_mean"])
    # the same gap in units of the return-to-go's size: the same sign, and q_bias / q_bias_rel = mean |G_t| > 0
    assert np.sign(larger["q_bias_rel"]).tolist() == np.sign(larger["q_bias"]).tolist()
    assert larger == evaluate(checkpoint, {**SPREAD, "n_agents": 6}, episodes=2, seed=3)


@pytest.mark.parametrize("algo", ["qmix", "central_v_sac"])
def test_a_learning_rate_schedule_anneals_every_optimizer(ray_session, algo):
    """`lr` as RLlib's schedule `[[env_step, lr], ...]`: after 80 sampled env steps each optimizer steps at the
    linearly interpolated rate (the fused Adam takes it as a float), and training still moves the weights."""
    trainer = quick_config(algo, SPREAD, lr=[[0, 1e-3], [160, 1e-4]]).build_algo()
    learner = trainer.learner_group._learner
    before = [p.detach().clone() for p in learner.module["default_policy"].parameters()]
    for _ in range(2):
        trainer.train()
    sampled = trainer.metrics.peek(("env_runners", "num_env_steps_sampled_lifetime"))
    expected = 1e-3 + (1e-4 - 1e-3) * sampled / 160
    rates = [group["lr"] for _, optimizer in learner._named_optimizers.items() for group in optimizer.param_groups]
    trainer.stop()
    assert sampled == 80 and rates
    assert all(isinstance(rate, float) and rate == pytest.approx(expected, rel=0.05) for rate in rates), rates
    after = learner.module["default_policy"].parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_evaluate_plays_the_checkpoint_weights_greedily(ray_session, tmp_path, monkeypatch):
    """Agent weights that make action 2 the best everywhere give the climbing game's (c, c) payoff, 5."""
    matrix = {"scenario": "matrix", "n_agents": 2, "n_max": 4, "game": "climbing", "reward": "mean"}
    trainer = quick_config("qmix", matrix).build_algo()
    last_layer = learner_module(trainer).agent.q[-1]
    with torch.no_grad():
        last_layer.weight.zero_()
        last_layer.bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    for n_agents in (2, 4):
        result = evaluate(checkpoint, {**matrix, "n_agents": n_agents}, episodes=3)
        assert result["returns"] == [5.0, 5.0, 5.0]
        assert result["task_metrics"] == {"optimal_rate": [0.0, 0.0, 0.0]}, "(c, c) is not the optimum (a, a)"
    last_layer_bias = torch.tensor([2.0, 1.0, 0.0])  # now action 0 is the best everywhere: the optimum
    trainer = quick_config("qmix", matrix).build_algo()
    with torch.no_grad():
        learner_module(trainer).agent.q[-1].weight.zero_()
        learner_module(trainer).agent.q[-1].bias.copy_(last_layer_bias)
    trainer.save_to_path(str(tmp_path / "optimal"))
    trainer.stop()
    monkeypatch.chdir(tmp_path)  # a checkpoint given by a relative path, as from a shell
    assert evaluate("optimal", matrix, episodes=2)["task_metrics"] == {"optimal_rate": [1.0, 1.0]}


def test_evaluate_rejects_another_n_max(ray_session, tmp_path):
    trainer = quick_config("iql", SPREAD).build_algo()
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    with pytest.raises(ValueError, match="built for n_max=8, but env_config has n_max=10"):
        evaluate(checkpoint, {**SPREAD, "n_max": 10})


def test_iql_learns_the_climbing_game(ray_session):
    """Random joint play earns -31/9 on average in the climbing game; trained greedy IQL settles on an
    equilibrium with a positive payoff."""
    matrix = {"scenario": "matrix", "n_agents": 2, "n_max": 2, "game": "climbing", "reward": "mean"}
    trainer = quick_config("iql", matrix, epsilon=[[0, 1.0], [600, 0.05]], lr=0.01, train_ratio=0.5).build_algo()
    for _ in range(25):
        trainer.train()
    returns = trainer.env_runner.sample(num_episodes=5, explore=False)
    trainer.stop()
    assert np.mean([episode.get_return() for episode in returns]) > 0


@pytest.mark.parametrize("algo", ["qmix", "iql"])
def test_recurrent_agent_with_last_action_trains_on_sequences(ray_session, tmp_path, algo):
    env_config = {**SPREAD, "last_action": True}
    trainer = quick_config(
        algo, env_config, recurrent=True, obs_last_action=True, max_seq_len=4, hidden=(32,), team_embedding="mean"
    ).build_algo()
    assert trainer.env_runner.module.is_stateful()
    result = trainer.train()
    assert np.isfinite(result["learners"]["default_policy"]["total_loss"])
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    played = evaluate(checkpoint, {**env_config, "n_agents": 6}, episodes=1)
    assert played["episode_len_mean"] == 10 and np.isfinite(played["q_bias_mean"])  # the GRU runs over the episode


@pytest.mark.parametrize("algo", ["qmix", "iql"])
def test_td_lambda_trains_feed_forward_agents_on_replayed_sequences(ray_session, algo):
    trainer = quick_config(algo, SPREAD, td_lambda=0.6, max_seq_len=4).build_algo()
    assert not trainer.env_runner.module.is_stateful()
    result = trainer.train()
    batch = trainer.replay.sample_sequences(2, 4)
    trainer.stop()
    assert np.isfinite(result["learners"]["default_policy"]["total_loss"])
    assert batch["loss_mask"].shape == (2, 4) and "state_in" not in batch  # sequences, no recurrent state stored


def test_individual_rewards_reach_the_iql_learner(ray_session):
    trainer = quick_config("iql", SPREAD, reward="individual", n_step=3).build_algo()
    result = trainer.train()
    trainer.stop()
    assert np.isfinite(result["learners"]["default_policy"]["total_loss"])


@pytest.mark.parametrize(
    "algo, env_config, training, message",
    [
        ("qmix", SPREAD, {"team_embedding": "gnn"}, "unknown team embedding 'gnn'"),
        ("qmix", SPREAD, {"munchausen": {"l0": 0.5}}, "munchausen l0=0.5 must be negative"),
        ("iql", SPREAD, {"munchausen": {"temperature": 1}}, "must be None or a dict with keys among alpha, tau, l0"),
        ("vdn", {"scenario": "multiwalker", "n_agents": 2}, {}, "needs discrete actions"),
        ("qmix", SPREAD, {"reward": "individual"}, "reward='individual' is for IQL only"),
        ("qmix", SPREAD, {"mixer_input": "state", "team_embedding": "graph"}, "use team_embedding='concat' with it"),
        ("gum", SPREAD, {"mixer_pooling": "max"}, "mixer_pooling='max' is unknown; use one of sum, mean"),
        ("qmix", SPREAD, {"mixer_q_norm": "yes"}, "mixer_q_norm must be True or False, got 'yes'"),
        ("qmix", SPREAD, {"optimizer": "sgd"}, "optimizer='sgd' is unknown; use one of adam, rmsprop"),
        ("qmix", SPREAD, {"tau": 0.0}, "tau must be in (0, 1]"),
        ("qmix", SPREAD, {"recurrent": True, "n_step": 3}, "recurrent=True needs n_step=1"),
        ("vdn", SPREAD, {"td_lambda": 0.6, "n_step": 3}, "td_lambda=0.6 needs n_step=1 (got n_step=3)"),
        ("qmix", SPREAD, {"td_lambda": 1.5}, "td_lambda must be None (off) or a number in [0, 1], got 1.5"),
        ("gum", SPREAD, {"td_lambda": 0.6}, "GUM does not train on TD(lambda) returns; use td_lambda=None"),
        ("iql", SPREAD, {"obs_last_action": True}, "obs_last_action=True needs the env option last_action=True"),
        ("qmix", {**SPREAD, "n_agents": 9}, {}, "n_agents=9 is above n_max=8"),
        ("qmix", SPREAD, {"lr": -1.0}, "lr must be a number > 0 (or an RLlib schedule"),
        ("vdn", SPREAD, {"gamma": 1.5}, "gamma must be a number in [0, 1), got 1.5"),
        ("iql", SPREAD, {"train_batch_size_per_learner": 0}, "train_batch_size_per_learner must be an int >= 1"),
        ("qmix", SPREAD, {"grad_clip": float("nan")}, "grad_clip must be a number > 0 or None"),
    ],
)
def test_bad_configs_raise(algo, env_config, training, message):
    config = rl_algos.get_config(algo).environment("team", env_config=env_config).training(**training)
    with pytest.raises(ValueError) as error:
        config.validate()
    assert message in str(error.value)


def test_unknown_algorithm_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown algorithm 'dqn'; known algorithms: iql, vdn, qmix, gum"):
        rl_algos.get_config("dqn")


@pytest.mark.parametrize("conv", ["gat", "gcn", "graph"])
@pytest.mark.parametrize("pool", ["mean", "max", "attention"])
def test_every_graph_embedding_transfers_to_a_larger_team(ray_session, tmp_path, conv, pool):
    embedding = {"type": "graph", "conv": conv, "pool": pool, "layers": 2}
    trainer = quick_config("qmix", SPREAD, team_embedding=embedding).build_algo()
    before = {k: v.clone() for k, v in learner_module(trainer).state_dict().items()}
    trainer.train()
    trained = learner_module(trainer).state_dict()
    graph = [k for k in trained if k.startswith("mixer.") and ".convs." in k]
    assert graph and all(not torch.equal(trained[k], before[k]) for k in graph if k.endswith("weight")), "GNN trains"
    if pool == "attention":
        assert any(not torch.equal(trained[k], before[k]) for k in trained if ".pool." in k), "the gate trains"
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    larger = evaluate(checkpoint, {**SPREAD, "n_agents": 6}, episodes=1)
    assert larger["n_agents"] == 6 and np.isfinite(larger["return_mean"]) and np.isfinite(larger["q_bias_mean"])


@pytest.mark.slow
def test_qmix_graph_beats_a_random_team_on_spread(ray_session):
    env_config = {"scenario": "spread", "n_agents": 3, "n_max": 3}
    random_returns = random_policy_returns(env_config, episodes=50, seed=0)
    config = budget_config("qmix", env_config, steps=10_000, seed=0, team_embedding="graph")
    trained = train_and_evaluate(config, 10_000, [env_config], episodes=20, seed=10_000).evaluations[0]
    assert trained["return_mean"] > np.mean(random_returns) + 10
