"""Fine-tuning: strategies as `.training()` options, the trust region against hand-computed values, and a run that
starts from a smaller team's checkpoint with its replay and a frozen reference."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import rl_algos
from rl_algos.common.checkpoints import checkpoint_env_steps
from rl_algos.common.config.finetune import finetune_config, loads_pretrained_replay, resumed_schedule
from rl_algos.common.learners.pretrained_kl import PretrainedKLLearner, annealed_coefficient

SMALL = {"scenario": "spread", "n_agents": 3, "n_max": 6, "max_cycles": 10}
LARGE = {**SMALL, "n_agents": 6}
ON_POLICY = ("central_v", "coma")


def test_a_resumed_schedule_continues_where_pre_training_left_it():
    schedule = [[0, 1.0], [10_000, 0.05]]
    resumed = resumed_schedule(schedule, 4_000)
    assert resumed[0] == [0, pytest.approx(1.0 - 0.95 * 0.4)] and resumed[1] == [6_000, 0.05]
    assert resumed_schedule(schedule, 20_000) == pytest.approx(0.05)
    assert resumed_schedule(0.1, 5_000) == 0.1


def test_the_trust_region_anneals_linearly_to_zero():
    assert annealed_coefficient(2.0, 1_000, 250) == pytest.approx(1.5)
    assert annealed_coefficient(2.0, 1_000, 5_000) == 0.0
    assert annealed_coefficient(2.0, 0, 5_000) == 2.0


def _penalty(against, outputs, reference, mask, tau=1.0, beta=1.0, trained=2):
    """`PretrainedKLLearner.pretrained_kl_penalty` on a stand-in learner and module: `reference(ids)` gives the
    pre-trained outputs for the slots' ids."""
    config = SimpleNamespace(
        finetune_kl=beta, finetune_kl_steps=0, finetune_kl_against=against, finetune_trained_slots=trained
    )
    learner = SimpleNamespace(config=config, metrics=SimpleNamespace(log_dict=lambda *a, **k: None))
    module = SimpleNamespace(pretrained_outputs=lambda obs, ids: reference(ids))
    return PretrainedKLLearner.pretrained_kl_penalty(learner, "m", module, {"mask": mask}, outputs, tau)


def test_kl_against_self_is_the_mean_kl_over_present_agents():
    torch.manual_seed(0)
    outputs, reference = torch.randn(4, 3, 5), torch.randn(4, 3, 5)
    mask = torch.tensor([[1.0, 1.0, 0.0]]).repeat(4, 1)
    tau = 0.5
    log_pi, log_ref = F.log_softmax(outputs / tau, -1), F.log_softmax(reference / tau, -1)
    expected = (log_pi.exp() * (log_pi - log_ref)).sum(-1)[:, :2].mean()
    penalty = _penalty("self", outputs, lambda ids: reference if ids is None else None, mask, tau=tau, beta=2.0)
    assert penalty.item() == pytest.approx(2.0 * expected.item(), rel=1e-5)
    assert _penalty("self", outputs, lambda ids: outputs, mask).item() == pytest.approx(0.0, abs=1e-6)


def test_kl_against_others_pulls_only_untrained_slots_toward_a_trained_agents_policy():
    # the reference depends only on the id asked for: slot b's policy is table[b]
    table = torch.randn(4, 5)
    outputs = torch.randn(64, 4, 5, requires_grad=True)
    mask = torch.ones(64, 4)
    calls = []

    def reference(ids):
        calls.append(ids)
        return ids @ table  # [B, n, A]

    penalty = _penalty("others", outputs, reference, mask, trained=2)
    penalty.backward()
    ids = calls[0].argmax(-1)  # [B, n]
    assert (ids[:, 2:] < 2).all(), "untrained slots are compared with a trained agent's id"
    assert set(ids[:, 2].tolist()) == {0, 1}
    assert torch.equal(outputs.grad[:, :2], torch.zeros(64, 2, 5)), "trained slots are not pulled"
    assert outputs.grad[:, 2:].abs().sum() > 0
    log_pi, log_ref = F.log_softmax(outputs.detach(), -1), F.log_softmax(calls[0] @ table, -1)
    expected = (log_pi.exp() * (log_pi - log_ref)).sum(-1)[:, 2:].mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-5)


def test_strategies_are_training_options():
    pretrained = rl_algos.get_config("qmix").environment("team", env_config=SMALL).training(lr=1e-3)
    config = (
        rl_algos.get_config("qmix")
        .environment("team", env_config=LARGE)
        .training(lr=1e-3, train_batch_size_per_learner=64)  # 4 batches (256) below the default learning_starts
    )
    naive = finetune_config(config, "naive", pretrained=pretrained, pretrained_env_steps=25_000)
    assert (naive.lr, naive.epsilon, naive.learning_starts, naive.finetune_kl) == (1e-3, config.epsilon, 1000, 0.0)
    conservative = finetune_config(
        config, "conservative", pretrained=pretrained, pretrained_env_steps=25_000, lr_scale=0.5
    )
    assert conservative.lr == pytest.approx(5e-4)
    assert conservative.epsilon == [[0, pytest.approx(1.0 - 0.95 * 0.5)], [25_000, 0.05]]
    assert conservative.learning_starts == 4 * 64 and conservative.finetune_kl == 0
    kl = finetune_config(config, "kl", pretrained=pretrained, pretrained_env_steps=0, kl=0.3, kl_steps=500)
    assert (kl.finetune_kl, kl.finetune_kl_steps, kl.finetune_kl_against) == (0.3, 500, "self")
    others = finetune_config(config, "others", pretrained=pretrained, pretrained_env_steps=0)
    assert (others.finetune_kl_against, others.finetune_trained_slots) == ("others", 3)
    others.validate()
    assert [loads_pretrained_replay(s) for s in ("naive", "conservative", "kl", "others")] == [False, True, True, True]
    assert config.lr == 1e-3 and config.finetune_kl == 0, "the given config is not changed"


@pytest.mark.parametrize(
    "ids, pretrained_env, expected",
    [
        ("reuse", SMALL, ("reuse", 3)),
        ("own", SMALL, ("own", None)),
        ("reuse", {**SMALL, "slots": "random"}, ("own", None)),
    ],
)
def test_every_strategy_can_act_with_the_ids_the_pre_training_trained(ids, pretrained_env, expected):
    pretrained = rl_algos.get_config("qmix").environment("team", env_config=pretrained_env)
    config = rl_algos.get_config("qmix").environment("team", env_config=LARGE)
    for strategy in ("naive", "conservative", "kl"):
        tuned = finetune_config(config, strategy, pretrained=pretrained, pretrained_env_steps=0, ids=ids)
        assert (tuned.finetune_ids, tuned.finetune_trained_slots) == expected, strategy  # random slots: all trained
    with pytest.raises(ValueError, match="ids='theirs' is unknown; use one of own, reuse"):
        finetune_config(config, "naive", pretrained=pretrained, pretrained_env_steps=0, ids="theirs")


@pytest.mark.parametrize(
    "algo, env_config, strategy, pretrained_env, message",
    [
        ("qmix", LARGE, "bold", SMALL, "unknown fine-tuning strategy 'bold'; known: naive, conservative, kl, others"),
        ("qmix", LARGE, "others", {**SMALL, "slots": "random"}, "trained with slots='random', so every id was"),
        (
            "maddpg",
            {"scenario": "multiwalker", "n_agents": 3, "n_max": 4},
            "kl",
            {"scenario": "multiwalker", "n_agents": 2, "n_max": 4},
            "finetune_kl compares softmax policies, but MADDPG acts with continuous actions here",
        ),
    ],
)
def test_strategies_that_cannot_apply_say_why(algo, env_config, strategy, pretrained_env, message):
    pretrained = rl_algos.get_config(algo).environment("team", env_config=pretrained_env)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config = rl_algos.get_config(algo).environment("team", env_config=env_config)
        finetune_config(config, strategy, pretrained=pretrained, pretrained_env_steps=0).validate()


@pytest.mark.parametrize(
    "training, message",
    [
        ({"finetune_kl": -1.0}, "finetune_kl must be a number >= 0"),
        ({"finetune_kl": 1.0, "recurrent": True}, "finetune_kl is not available for recurrent agents"),
        ({"finetune_kl": 1.0, "finetune_kl_against": "others"}, "needs finetune_trained_slots"),
        ({"finetune_kl": 1.0, "finetune_kl_against": "others", "finetune_trained_slots": 6}, "leaves no untrained"),
        ({"finetune_kl_against": "all"}, "finetune_kl_against='all' is unknown; use one of self, others"),
    ],
)
def test_bad_trust_region_options_raise(training, message):
    with pytest.raises(ValueError, match=message):
        rl_algos.get_config("qmix").environment("team", env_config=LARGE).training(**training).validate()


def quick(algo, env_config, **training):
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2, rollout_fragment_length=20)
        .reporting(min_sample_timesteps_per_iteration=200)
        .debugging(seed=0)
    )
    replay = {"learning_starts": 100, "train_batch_size_per_learner": 32} if algo not in ON_POLICY else {}
    return config.training(**replay, **training)


OTHERS = {"finetune_kl_against": "others", "finetune_trained_slots": 3}


@pytest.mark.parametrize(
    "algo, trust_region",
    [("qmix", {}), ("qmix", OTHERS), ("central_v", OTHERS), ("coma", {}), ("maddpg", {}), ("gum", {})],
)
def test_fine_tuning_starts_from_the_smaller_teams_weights_replay_and_a_frozen_reference(
    ray_session, tmp_path, algo, trust_region
):
    extra = {"checkpoint_replay": True} if algo not in ON_POLICY else {}
    pretrained = quick(algo, SMALL, **extra).build_algo()
    sampled = pretrained.train()["num_env_steps_sampled_lifetime"]
    checkpoint = pretrained.save_to_path(str(tmp_path / "pretrained"))
    assert checkpoint_env_steps(checkpoint) == sampled
    weights = pretrained.get_module().policy_network().state_dict()
    stored = len(pretrained.replay) if algo not in ON_POLICY else 0
    pretrained.stop()

    trainer = quick(algo, LARGE, finetune_kl=1.0, **trust_region).build_algo()
    loaded = trainer.load_pretrained(checkpoint, replay=True)
    module = trainer.learner_group._learner.module["default_policy"]
    for name, value in weights.items():
        torch.testing.assert_close(module.policy_network().state_dict()[name], value)
        torch.testing.assert_close(module._pretrained_policy.state_dict()[name], value)
    if algo in ON_POLICY:
        assert not loaded
    else:
        assert loaded and len(trainer.replay) == stored and trainer._updates_due() == 0
    result = trainer.train()
    metrics = result["learners"]["default_policy"]
    assert np.isfinite(metrics["finetune_kl"]) and metrics["finetune_kl_coeff"] == 1.0
    changed = any(not torch.equal(module.policy_network().state_dict()[name], value) for name, value in weights.items())
    assert changed, "fine-tuning trains the policy"
    for name, value in weights.items():
        torch.testing.assert_close(module._pretrained_policy.state_dict()[name], value)
    assert "_pretrained_policy" not in str(trainer.env_runner.module), "env runners never hold the reference"
    trainer.stop()
