"""IPPO and MAPPO: GAE, the clipped losses and the value normalisation against hand-computed values, the advantage
connector on a batch, the config's checks, and short training runs."""

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing

import rl_algos
from policies.networks.value_normalizer import ValueNormalizer
from policies.team_actor import TeamActor
from rl_algos.common import evaluate
from rl_algos.common.checkpoints import MODULE_COMPONENT, CheckpointError
from rl_algos.common.losses.actor_critic import gae_advantages, rollout_returns
from rl_algos.mappo.learner import (
    OLD_LOG_PROBS,
    OLD_VALUES,
    AddTeamAdvantagesToBatch,
    clipped_surrogate_loss,
    clipped_value_loss,
)


def test_gae_by_hand_with_a_cut_and_a_termination():
    # two rollouts laid end to end: steps 0-1 (cut after 1, bootstrap), step 2 (terminated)
    rewards = torch.tensor([1.0, 2.0, 3.0])
    terminateds = torch.tensor([0.0, 0.0, 1.0])
    cuts = torch.tensor([0.0, 1.0, 1.0])
    values = torch.tensor([0.5, 1.0, 2.0])
    next_values = torch.tensor([1.0, 4.0, 9.0])
    gamma, lam = 0.9, 0.5
    delta = [1 + 0.9 * 1.0 - 0.5, 2 + 0.9 * 4.0 - 1.0, 3 - 2.0]  # 1.4, 4.6, 1.0
    expected = [delta[0] + gamma * lam * delta[1], delta[1], delta[2]]
    advantages = gae_advantages(rewards, terminateds, cuts, values, next_values, gamma, lam)
    assert advantages.tolist() == pytest.approx(expected)


def test_gae_spans_one_step_td_to_the_bootstrapped_return():
    torch.manual_seed(0)
    steps, n = 12, 3
    rewards, values = torch.randn(steps), torch.randn(steps, n)
    terminateds = torch.zeros(steps)
    terminateds[4] = 1.0
    cuts = torch.zeros(steps)
    cuts[[4, 8, 11]] = 1.0
    # inside a rollout V(s_{t+1}) is the next step's V(s_t); after a cut, the bootstrap observation's own value
    next_values = torch.where(cuts[:, None] > 0, torch.randn(steps, n), values.roll(-1, dims=0))
    td = rewards[:, None] + 0.99 * (1 - terminateds[:, None]) * next_values - values
    assert torch.allclose(gae_advantages(rewards, terminateds, cuts, values, next_values, 0.99, 0.0), td)
    # with lambda = 1 the deltas telescope: A2C's bootstrapped return less the value (per agent here)
    returns = rollout_returns(rewards, terminateds, cuts, next_values, 0.99)
    assert torch.allclose(gae_advantages(rewards, terminateds, cuts, values, next_values, 0.99, 1.0), returns - values)


def test_clipped_surrogate_by_hand():
    old = torch.zeros(1, 3)
    log_probs = torch.log(torch.tensor([[1.5, 0.5, 1.1]]))  # ratios 1.5, 0.5, 1.1
    advantages = torch.tensor([[2.0, -1.0, 4.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])  # the third agent is absent
    # agent 0: min(1.5 * 2, 1.2 * 2) = 2.4; agent 1: min(0.5 * -1, 0.8 * -1) = -0.8
    loss = clipped_surrogate_loss(log_probs, old, advantages, mask, clip=0.2)
    assert loss.item() == pytest.approx(-(2.4 - 0.8) / 2)


def test_clipped_surrogate_has_no_gradient_past_the_clip_in_the_advantage_s_direction():
    log_probs = torch.log(torch.tensor([[1.5, 0.5]])).requires_grad_(True)
    clipped_surrogate_loss(log_probs, torch.zeros(1, 2), torch.tensor([[2.0, -1.0]]), torch.ones(1, 2), 0.2).backward()
    assert torch.equal(log_probs.grad, torch.zeros(1, 2))


def test_clipped_value_loss_by_hand():
    values = torch.tensor([5.0, 0.0, 1.0])
    old_values = torch.tensor([0.0, 0.0, 0.0])
    targets = torch.tensor([10.0, 3.0, -1.0])
    # v0 moved 5 (clipped to 2): max((5 - 10)^2, (2 - 10)^2) = 64; v1: 9; v2 clipped 1 -> 1: max(4, 4) = 4
    assert clipped_value_loss(values, old_values, targets, torch.ones(3), clip=2.0).item() == pytest.approx(77 / 3)
    assert clipped_value_loss(values, old_values, targets, torch.ones(3), clip=None).item() == pytest.approx(38 / 3)
    per_agent = clipped_value_loss(values[None], old_values[None], targets[None], torch.tensor([[1.0, 1.0, 0.0]]), 2.0)
    assert per_agent.item() == pytest.approx(73 / 2)
    # with value normalisation the errors are in units of sigma: (77 / 3) / 2^2
    scaled = clipped_value_loss(values, old_values, targets, torch.ones(3), clip=2.0, scale=torch.tensor(2.0))
    assert scaled.item() == pytest.approx(77 / 12)


def test_value_normalizer_by_hand():
    normalizer = ValueNormalizer(beta=0.5)
    head = torch.tensor([0.0, 1.0, -2.0])
    assert torch.equal(normalizer.denormalize(head), head), "before any target it passes values through"
    # agents present 1, 1, 0: the absent one's 100 is not a target
    normalizer.update(torch.tensor([[2.0, 6.0, 100.0]]), torch.tensor([[1.0, 1.0, 0.0]]))
    mean, std = normalizer.mean_and_std()
    assert (mean.item(), std.item()) == pytest.approx((4.0, 2.0)), "debiased: the first batch's own mean and std"
    assert torch.allclose(normalizer.denormalize(head), torch.tensor([4.0, 6.0, 0.0]))
    # second batch, all 10: mean (0.25 * 4 + 0.5 * 10) / 0.75 = 8, mean square (0.25 * 20 + 0.5 * 100) / 0.75 = 73.33
    normalizer.update(torch.full((2,), 10.0))
    mean, std = normalizer.mean_and_std()
    assert (mean.item(), std.item()) == pytest.approx((8.0, math.sqrt(220 / 3 - 64)))
    normalizer.update(torch.zeros(0))
    assert normalizer.mean_and_std()[0].item() == pytest.approx(8.0), "no targets: no move"
    equal = ValueNormalizer()
    equal.update(torch.full((4,), 3.0))
    assert equal.scale().item() == pytest.approx(0.1), "equal targets: the variance floor 0.01"
    assert set(equal.state_dict()) == {"mean_sum", "square_sum", "debiasing"}, "kept in checkpoints"


class _StubModule:
    """A team module whose actor is uniform over 3 actions and whose critic values every step at 1.0."""

    def __init__(self, team: bool, value_normalizer: ValueNormalizer | None = None):
        self.team = team
        self.actor = type("Actor", (), {"discrete": True})()
        self.value_normalizer = value_normalizer

    def unwrapped(self):
        return self

    def forward_train(self, batch):
        steps, n = batch[Columns.OBS]["mask"].shape
        values = torch.ones(steps) if self.team else torch.ones(steps, n) * batch[Columns.OBS]["mask"]
        return {"logits": torch.zeros(steps, n, 3), "values": values, "next_values": values.clone()}


@pytest.mark.parametrize("normalize_values", [False, True], ids=["raw", "value_normalization"])
@pytest.mark.parametrize("team", [True, False], ids=["mappo", "ippo"])
def test_the_advantage_connector_credits_present_agents_only(team, normalize_values):
    mask = torch.tensor([[1.0, 1.0, 0.0]] * 4)
    batch = {
        "p": {
            Columns.OBS: {"mask": mask},
            Columns.ACTIONS: torch.tensor([[0, 1, 0], [2, 2, 0], [1, 0, 0], [0, 0, 0]]),
            Columns.REWARDS: torch.tensor([0.0, 1.0, 0.0, 2.0]),
            Columns.TERMINATEDS: torch.tensor([0.0, 0.0, 0.0, 1.0]),
            Columns.TRUNCATEDS: torch.zeros(4),
            "rollout_cuts": torch.tensor([0.0, 1.0, 0.0, 1.0]),
        }
    }
    connector = AddTeamAdvantagesToBatch(gamma=1.0, lambda_=1.0, normalize_advantages=False)
    normalizer = ValueNormalizer() if normalize_values else None
    out = connector(rl_module={"p": _StubModule(team, normalizer)}, batch=batch, episodes=[])["p"]
    # V = 1 everywhere, gamma = lambda = 1: rollout 1 returns 1 + 1 (bootstrap) at both steps; rollout 2 returns 2
    expected = torch.tensor([1.0, 1.0, 1.0, 1.0])
    advantages = out[Postprocessing.ADVANTAGES]
    assert advantages.shape == (4, 3) and torch.equal(advantages[:, 2], torch.zeros(4))
    assert torch.allclose(advantages[:, 0], expected) and torch.allclose(advantages[:, 1], expected)
    assert out[Postprocessing.VALUE_TARGETS].shape == ((4,) if team else (4, 3))
    assert torch.allclose(out[OLD_LOG_PROBS], torch.full((4, 3), -math.log(3.0)))
    sampled_values = _StubModule(team).forward_train(batch["p"])["values"]
    if not normalize_values:
        assert torch.equal(out[OLD_VALUES], sampled_values)
    else:  # every present agent's (or the team's) target is 2: the statistics move to mean 2, std 0.1 (the floor),
        # and the old values are the critic's head output 1.0 as it now reads: 0.1 * 1 + 2
        assert normalizer.mean_and_std()[0].item() == pytest.approx(2.0)
        assert torch.allclose(out[OLD_VALUES], 2.1 * sampled_values)


@pytest.mark.parametrize(
    "training, message",
    [
        ({"clip_param": 0.0}, "clip_param=0.0 must be in \\(0, 1\\)"),
        ({"vf_clip_param": -1.0}, "vf_clip_param=-1.0 must be > 0, or None"),
        ({"lambda_": 1.5}, "lambda_=1.5 must be in \\[0, 1\\]"),
        ({"num_epochs": 0}, "num_epochs=0 must be an int >= 1"),
        ({"minibatch_size": 5000}, "minibatch_size=5000 must be None .* train_batch_size_per_learner=1000"),
        ({"actor_output_scale": 0.0}, "actor_output_scale must be a number > 0 .* got 0.0"),
    ],
)
def test_bad_ppo_configs_raise(training, message):
    with pytest.raises(ValueError, match=message):
        rl_algos.get_config("mappo").training(**training).validate()


@pytest.mark.parametrize("recurrent", [False, True], ids=["mlp", "gru"])
def test_a_small_actor_output_scale_starts_from_a_near_uniform_policy(recurrent):
    action_space = gym.spaces.MultiDiscrete([5] * 3)
    obs = {"obs": 10.0 * torch.randn(64, 3, 4), "mask": torch.ones(64, 3)}

    def actor(scale):
        torch.manual_seed(0)
        return TeamActor(action_space, 4, 3, (16, 16), recurrent=recurrent, output_scale=scale)

    def logits(network):
        if recurrent:
            return network.unroll({k: v[:, None] for k, v in obs.items()}, torch.zeros(64, 3, 16))[0][:, 0]
        return network(obs)

    default, small = actor(1.0), actor(0.01)
    output_default, output_small = (
        [m for m in a.network.modules() if isinstance(m, torch.nn.Linear)][-1] for a in (default, small)
    )
    assert torch.allclose(output_small.weight, 0.01 * output_default.weight) and not output_small.bias.any()
    spread_default, spread_small = (logits(a).std(dim=-1).mean().item() for a in (default, small))
    assert spread_small < 0.02 * spread_default, "the logits of one agent's actions start almost equal"


@pytest.mark.parametrize("algo", ["mappo", "ippo"])
def test_ppo_learns_the_penalty_game(ray_session, algo):
    matrix = {"scenario": "matrix", "n_agents": 2, "n_max": 2, "game": "penalty", "k": 0.0, "reward": "mean"}
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=matrix)
        .env_runners(num_env_runners=0)
        .training(train_batch_size_per_learner=200, lr=3e-3)
        .reporting(min_sample_timesteps_per_iteration=200)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    returns = [trainer.train()["env_runners"]["episode_return_mean"] for _ in range(12)]
    trainer.stop()
    assert returns[0] < 6.0, "a random pair of the penalty game scores about 10 * 2 / 9 + 2 / 9 = 2.4"
    assert np.mean(returns[-3:]) > 9.0, f"PPO did not settle on an optimal joint action: {returns}"


@pytest.mark.parametrize("algo, recurrent", [("mappo", False), ("ippo", False), ("mappo", True)])
def test_ppo_trains_on_spread_with_minibatches_and_evaluates_at_a_larger_team(algo, recurrent, ray_session, tmp_path):
    env_config = {"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10}
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(team_embedding="graph", train_batch_size_per_learner=100, minibatch_size=25, num_epochs=3)
        .training(recurrent=recurrent, max_seq_len=4)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    before = [p.detach().clone() for p in trainer.learner_group._learner.module["default_policy"].parameters()]
    result = trainer.train()
    learner = result["learners"]["default_policy"]
    assert np.isfinite(learner["total_loss"]) and learner["num_module_steps_trained"] >= 3 * 100
    after = list(trainer.learner_group._learner.module["default_policy"].parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True)), "every parameter moved"
    checkpoint = trainer.save_to_path(str(tmp_path / algo))
    trainer.stop()
    played = evaluate(checkpoint, {**env_config, "n_agents": 4}, episodes=2, seed=0)
    assert played["n_agents"] == 4 and played["episode_len_mean"] == 10.0
    weights = Path(checkpoint) / MODULE_COMPONENT / "default_policy" / "module_state.pkl"
    weights.write_bytes(weights.read_bytes()[:100])  # cut short, as by a full disk
    with pytest.raises(CheckpointError, match=r"is damaged: .*default_policy/module_state.pkl"):
        evaluate(checkpoint, env_config, episodes=1)
