"""The replay loop: synchronous runs are reproducible, the asynchronous mode holds `train_ratio`, the replay goes
into checkpoints with `checkpoint_replay`, and target networks move as RLlib's own update moves them."""

import copy

import numpy as np
import pytest
import torch
from ray.rllib.core.learner.utils import update_target_network

import rl_algos
from rl_algos.common import evaluate
from rl_algos.common.evaluation import team_evaluation
from rl_algos.common.evaluation.q_bias import episode_q_bias
from rl_algos.common.learners.utils import soft_update

SPREAD = {"scenario": "spread", "n_agents": 3, "n_max": 4, "max_cycles": 10}


def replay_config(algo="qmix", runners=0, seed=0, **training):
    return (
        rl_algos.get_config(algo)
        .environment("team", env_config=SPREAD)
        .env_runners(num_env_runners=runners, num_envs_per_env_runner=2, rollout_fragment_length=20)
        .training(learning_starts=100, train_batch_size_per_learner=32, **training)
        .reporting(min_sample_timesteps_per_iteration=200)
        .debugging(seed=seed)
    )


def learner_weights(algo) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in algo.learner_group._learner.module["default_policy"].state_dict().items()}


def train_and_evaluate(tmp_path, name, seed, iterations=3, **training):
    algo = replay_config(seed=seed, **training).build_algo()
    for _ in range(iterations):
        algo.train()
    weights = learner_weights(algo)
    checkpoint = algo.save_to_path(str(tmp_path / name))
    algo.stop()
    return weights, evaluate(checkpoint, SPREAD, episodes=3, seed=5)


@pytest.mark.parametrize("training", [{}, {"n_step": 3, "team_embedding": "graph"}], ids=["1-step", "3-step-graph"])
def test_two_synchronous_runs_with_one_seed_are_identical(ray_session, tmp_path, training):
    weights_a, played_a = train_and_evaluate(tmp_path, "a", seed=0, **training)
    weights_b, played_b = train_and_evaluate(tmp_path, "b", seed=0, **training)
    weights_c, _ = train_and_evaluate(tmp_path, "c", seed=1, **training)
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert played_a["returns"] == played_b["returns"]
    assert not all(torch.equal(weights_a[k], weights_c[k]) for k in weights_a)  # the seed matters


@pytest.mark.parametrize("algo", ["qmix", "maddpg"])
def test_the_asynchronous_mode_trains_at_the_train_ratio(ray_session, algo):
    trainer = replay_config(algo, runners=1, train_ratio=0.5).build_algo()
    before = learner_weights(trainer)
    while trainer.replay.env_steps_added < 1500:
        result = trainer.train()
    assert np.isfinite(result["learners"]["default_policy"]["total_loss"])
    ratio = trainer.num_updates_done / (trainer.replay.env_steps_added - 100)
    after = learner_weights(trainer)
    trainer.stop()
    assert ratio == pytest.approx(0.5, rel=0.1)
    assert not all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("checkpoint_replay", [True, False])
def test_the_replay_goes_into_checkpoints_only_when_asked(ray_session, tmp_path, checkpoint_replay):
    trainer = replay_config(checkpoint_replay=checkpoint_replay).build_algo()
    trainer.train()
    stored, updates = len(trainer.replay), trainer.num_updates_done
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    expected = trainer.replay.sample_transitions(16, 1, 0.99)["rewards"]
    trainer.stop()

    restored = replay_config(checkpoint_replay=checkpoint_replay).build_algo()
    restored.restore_from_path(checkpoint)
    if checkpoint_replay:
        assert (len(restored.replay), restored.num_updates_done) == (stored, updates) and stored > 0
        np.testing.assert_array_equal(restored.replay.sample_transitions(16, 1, 0.99)["rewards"], expected)
    else:  # a resumed run refills its replay for learning_starts env steps before updating again
        assert (len(restored.replay), restored.num_updates_done) == (0, 0)
    restored.train()
    restored.stop()


@pytest.mark.parametrize("tau", [0.005, 1.0])
def test_soft_update_matches_rllibs_target_update(tau):
    main = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ours, rllibs = copy.deepcopy(main), copy.deepcopy(main)
    with torch.no_grad():
        for parameter in main.parameters():
            parameter.add_(torch.randn_like(parameter))
    main(torch.randn(8, 3))  # moves the running statistics (float buffers) and the batch counter
    soft_update(main, ours, tau)
    update_target_network(main_net=main, target_net=rllibs, tau=tau)
    for (name, value), expected in zip(ours.state_dict().items(), rllibs.state_dict().values(), strict=True):
        if value.is_floating_point():
            assert torch.allclose(value, expected), name
        else:  # an integer buffer is copied (RLlib's average truncates 0.005 * 1 to 0)
            assert torch.equal(value, main.state_dict()[name]), name


def test_a_step_with_non_finite_gradients_keeps_the_parameters_finite(ray_session):
    trainer = replay_config().build_algo()
    learner = trainer.learner_group._learner
    params = list(learner._params.items())
    before = [p.detach().clone() for _, p in params]
    gradients = {ref: torch.ones_like(p) for ref, p in params}
    learner.apply_gradients(gradients)  # finite: every parameter takes an Adam step
    stepped = [p.detach().clone() for _, p in params]
    assert all(not torch.equal(a, b) for a, b in zip(before, stepped, strict=True))
    gradients[params[0][0]] = torch.full_like(params[0][1], float("nan"))
    learner.apply_gradients(gradients)  # RLlib's path: the NaNs are zeroed, nothing turns NaN
    trainer.stop()
    assert all(torch.isfinite(p).all() for _, p in params)
    assert torch.equal(params[0][1].grad, torch.zeros_like(params[0][1]))


@pytest.mark.parametrize("runners", [0, 1], ids=["sync", "async"])
def test_exploration_anneals_on_the_env_steps_sampled(ray_session, runners):
    trainer = replay_config(runners=runners, epsilon=[[0, 1.0], [400, 0.05]]).build_algo()
    while trainer.replay.env_steps_added < 800:
        trainer.train()
    group = trainer.env_runner_group
    seen = group.foreach_env_runner(lambda runner: runner.num_env_steps_sampled_lifetime, local_env_runner=runners == 0)
    trainer.stop()
    assert min(seen) >= 400  # the runners' epsilon schedules have reached their end (0.05)


def test_the_learner_trains_on_the_replayed_rewards_times_the_reward_scale(ray_session, tmp_path, monkeypatch):
    trainer = replay_config(reward_scale=0.1).build_algo()
    sampled, updated = [], []
    sample_transitions, update = trainer.replay.sample_transitions, trainer.learner_group.update

    def recorded_sample(*args, **kwargs):
        sampled.append(sample_transitions(*args, **kwargs))
        return sampled[-1]

    def recorded_update(*, batch, **kwargs):
        updated.append(batch["default_policy"]["rewards"].cpu().numpy().reshape(-1))
        return update(batch=batch, **kwargs)

    trainer.replay.sample_transitions, trainer.learner_group.update = recorded_sample, recorded_update
    while not updated:
        trainer.train()
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    assert sampled[0]["rewards"].min() < 0  # spread's rewards
    np.testing.assert_allclose(updated[0], sampled[0]["rewards"] * 0.1, rtol=1e-6)

    read_with = []

    def recorded_q_bias(*args):
        read_with.append(args[-1])  # reward_scale
        return episode_q_bias(*args)

    monkeypatch.setattr(team_evaluation, "episode_q_bias", recorded_q_bias)
    played = evaluate(checkpoint, SPREAD, episodes=1)
    assert read_with == [0.1] and np.isfinite(played["q_bias_mean"]), "q_bias reads the values in the env's units"
