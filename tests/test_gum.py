"""Greedy unmixing: gaps, estimator weights, Lagrange multipliers, reference ids, and a short RLlib run."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID, Columns
from torch.nn import functional as F

import rl_algos
from policies.gum_module import GUMModule
from policies.networks.behaviour import BehaviourFit
from policies.networks.masked import chosen_action_values
from policies.networks.mixers import QMixer
from rl_algos.common import evaluate
from rl_algos.common.losses.value import (
    direct_weights,
    inverse_gap_weights,
    kl_to_reference,
    lagrange_multiplier_loss,
    lagrange_weights,
    other_agent_ids,
)
from rl_algos.gum.learner import GUMLearner, clipped_team_next_value, independent_gap, mixed_gap

B, N_MAX, N_ACTIONS, OBS_DIM = 8, 4, 3, 5


def team(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.arange(N_MAX) < torch.randint(1, N_MAX + 1, (B, 1), generator=g)).float()
    q = torch.randn(B, N_MAX, N_ACTIONS, generator=g)
    obs = torch.randn(B, N_MAX, OBS_DIM, generator=g) * mask.unsqueeze(-1)
    return q, mask, obs


def test_gaps_are_zero_when_beta_is_the_greedy_policy_and_mu_is_greedy():
    torch.manual_seed(0)
    q, mask, obs = team()
    greedy = q.argmax(-1)
    beta_probs = F.one_hot(greedy, N_ACTIONS).float()
    assert independent_gap(q, beta_probs, mask, "greedy").item() == 0.0
    assert independent_gap(q, beta_probs, mask, "logsumexp").item() > 0.0  # logsumexp > max
    mixer = QMixer(N_MAX, OBS_DIM, 1, team_embedding="mean")
    chosen = q.gather(-1, greedy.unsqueeze(-1)).squeeze(-1)
    q_mix_greedy = mixer(chosen, mask, obs, torch.zeros(B, 1))
    beta_samples = torch.stack([q_mix_greedy] * 4)  # every behaviour sample is the greedy joint action
    assert mixed_gap(q_mix_greedy, beta_samples).item() == 0.0


def test_independent_gap_ignores_padded_agents():
    q, mask, _ = team()
    beta_probs = torch.full_like(q, 1.0 / N_ACTIONS)
    noisy = q + (1 - mask).unsqueeze(-1) * 1000.0
    assert independent_gap(noisy, beta_probs, mask, "logsumexp") == pytest.approx(
        independent_gap(q, beta_probs, mask, "logsumexp").item()
    )


def test_inverse_weights():
    torch.testing.assert_close(inverse_gap_weights(torch.tensor([0.3, 0.3]), 1e-3), torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(inverse_gap_weights(torch.tensor([-0.3, 0.3]), 1e-3), torch.tensor([0.5, 0.5]))
    weights = inverse_gap_weights(torch.tensor([2.0, 0.5]), 1e-3)
    assert weights[1] > weights[0] and weights.sum().item() == pytest.approx(1.0)
    assert weights[1].item() == pytest.approx((1 / 0.501) / (1 / 0.501 + 1 / 2.001))


def test_direct_picks_the_smaller_gap_and_bootstraps_from_the_min():
    torch.testing.assert_close(direct_weights(torch.tensor([2.0, -0.5])), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(direct_weights(torch.tensor([0.1, 0.5])), torch.tensor([1.0, 0.0]))
    next_values = torch.tensor([[1.0, 3.0, 99.0], [4.0, 0.0, 0.0]])
    next_mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    next_q_mix = torch.tensor([5.0, 1.0])
    # Q_ind' = [2, 4] (masked means); min with Q_mix' = [5, 1]
    torch.testing.assert_close(clipped_team_next_value(next_values, next_mask, next_q_mix), torch.tensor([2.0, 1.0]))


def test_one_lagrange_step_raises_the_multiplier_of_a_gap_above_target_and_lowers_the_other():
    log_lambdas = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.SGD([log_lambdas], lr=0.1)
    gaps = torch.tensor([2.0, 0.2])  # target_gap 1.0: the first is too large, the second small enough
    optimizer.zero_grad()
    lagrange_multiplier_loss(log_lambdas, gaps, target_gap=1.0).backward()
    optimizer.step()
    assert log_lambdas[0] > 0 > log_lambdas[1]
    weights = lagrange_weights(log_lambdas.detach())
    assert weights[1] > weights[0]  # w_k proportional to 1 / lambda_k
    inverse_lambdas = 1 / log_lambdas.detach().exp()
    torch.testing.assert_close(weights, inverse_lambdas / inverse_lambdas.sum())


def test_others_uses_another_present_agent_id():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]).repeat(50, 1)
    ids = other_agent_ids(mask, torch.Generator().manual_seed(0))  # [B, n, n]
    other = ids.argmax(-1)
    own = torch.arange(N_MAX).expand_as(other)
    two_or_more = mask.sum(-1, keepdim=True) >= 2
    present = mask.bool()
    assert (other[present & two_or_more] != own[present & two_or_more]).all()
    assert mask.gather(1, other)[present].all()  # the other agent is present
    assert (other[~two_or_more.expand_as(present) & present] == 0).all()  # alone: its own id
    assert set(other[0::3, 0].tolist()) == {1, 2}  # drawn among the others


def test_kl_to_itself_is_zero_and_positive_otherwise():
    q, mask, _ = team()
    tau = 0.5
    assert kl_to_reference(q, torch.log_softmax(q / tau, -1), tau, mask).item() == pytest.approx(0.0, abs=1e-6)
    assert kl_to_reference(q, torch.log_softmax(-q / tau, -1), tau, mask).item() > 0


SPREAD = {"scenario": "spread", "n_agents": 3, "n_max": 6, "max_cycles": 10}


def gum_config(**training):
    return (
        rl_algos.get_config("gum")
        .environment("team", env_config=SPREAD)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1, rollout_fragment_length=20)
        .training(learning_starts=20, train_batch_size_per_learner=16, **training)
        .reporting(min_sample_timesteps_per_iteration=40)
        .debugging(seed=0)
    )


@pytest.mark.parametrize(
    "switches",
    [
        {},
        {"unmix": "direct", "regulariser": "kl", "regularise_against": "self", "behaviour_model": "vae"},
        {"unmix": "lagrange", "regulariser": "none", "mixer": "vdn", "cql_mu": "greedy", "cql_alpha": 0.1},
        {"mixed_gap_grad": "agents", "team_embedding": "graph"},
        {"mixer_pooling": "mean", "mixer_q_norm": True},
        {"mixer_agent_input": "centred"},
    ],
    ids=[
        "defaults",
        "direct-kl-self-vae",
        "lagrange-none-vdn",
        "gap-grad-agents-graph",
        "mean-pooled-q-norm",
        "centred",
    ],
)
def test_gum_trains_checkpoints_and_evaluates_at_a_larger_team(ray_session, tmp_path, switches):
    trainer = gum_config(**switches).build_algo()
    module = trainer.learner_group._learner.module[DEFAULT_MODULE_ID].unwrapped()
    before = {name: p.detach().clone() for name, p in module.named_parameters()}
    for _ in range(2):
        result = trainer.train()
    metrics = result["learners"]["default_policy"]
    for key in (
        "gap_ind",
        "gap_mix",
        "w_ind",
        "w_mix",
        "lambda_ind",
        "lambda_mix",
        "behaviour_loss",
        "behaviour_accuracy",
        "q_ind_mean",
        "q_mix_mean",
        "td_ind",
        "td_mix",
    ):
        assert np.isfinite(metrics[key]), key
    moved = {name for name, p in module.named_parameters() if not torch.equal(p.detach(), before[name])}
    trained = ("agent.", "behaviour.") + (("mixer.",) if switches.get("mixer") != "vdn" else ())  # VDN sums
    for part in trained:
        assert any(name.startswith(part) for name in moved), f"no parameter of {part[:-1]} moved"
    if switches.get("unmix") == "lagrange":
        assert "log_lambdas" in moved, "the Lagrange multipliers are learned"
    checkpoint = trainer.save_to_path(str(tmp_path / "checkpoint"))
    trainer.stop()
    larger = evaluate(checkpoint, {**SPREAD, "n_agents": 6}, episodes=1)
    assert larger["n_agents"] == 6 and np.isfinite(larger["return_mean"])
    for key in ("q_bias_mean", "q_bias_rel_mean", "q_bias_ind_mean", "q_bias_ind_rel_mean"):
        assert np.isfinite(larger[key]), f"both estimators' q_bias, raw and relative: {key}"


@pytest.mark.parametrize(
    "training, message",
    [
        ({"unmix": "mean"}, "unmix='mean' is unknown; use one of inverse, direct, lagrange"),
        ({"regulariser": "l2"}, "regulariser='l2' is unknown; use one of munchausen, kl, none"),
        ({"regularise_against": "all"}, "regularise_against='all' is unknown; use one of others, self"),
        ({"behaviour_model": "gan"}, "behaviour_model='gan' is unknown; use one of bc, vae"),
        ({"cql_mu": "max"}, "cql_mu='max' is unknown; use one of logsumexp, greedy"),
        ({"mixed_gap_grad": "mixer"}, "mixed_gap_grad='mixer' is unknown; use one of all, agents"),
        ({"mixer": "qtran"}, "mixer='qtran' is unknown; use one of vdn, qmix"),
        ({"mixer_agent_input": "advantage"}, "mixer_agent_input='advantage' is unknown; use one of q, centred"),
        (
            {"recurrent": True},
            "GUM has no option 'recurrent': it does not take recurrent agents; the algorithms that do",
        ),
        ({"obs_agent_id": False}, "regularise_against='others' asks the shared network with another agent's id"),
    ],
)
def test_bad_gum_configs_raise(training, message):
    with pytest.raises(ValueError) as error:
        gum_config(**training).validate()
    assert message in str(error.value)


def hand_computed_loss(q, mix, samples, mixed_gap_grad="all", fixed_mix=None, mixer_agent_input="q", unmix="inverse"):
    """gum's loss on one transition, two agents, two actions: agent Qs `q` [1, 2, 2], a stand-in mixer `mix` (and,
    for `mixed_gap_grad="agents"`, its fixed-parameter twin) for the online and the target mixer, a stand-in
    behaviour model with fixed probabilities and the joint-action `samples` [S=1, 1, 2]; (loss, logged metrics)."""
    logged = {}
    behaviour = SimpleNamespace(
        fit=lambda obs, actions, mask, beta_samples: BehaviourFit(
            loss=torch.tensor(0.7),
            accuracy=torch.tensor(0.5),
            probs=torch.tensor([[[0.5, 0.5], [1.0, 0.0]]]),
            samples=samples,
        )
    )
    module = SimpleNamespace(
        behaviour=behaviour,
        log_lambdas=torch.zeros(2, requires_grad=True),
        mix=lambda per_agent_q, obs, target=False: mix(per_agent_q * obs["mask"]),
        mix_with_fixed_mixer=lambda per_agent_q, obs: fixed_mix(per_agent_q * obs["mask"]),
        observe_agent_qs=lambda per_agent_q, mask: logged.update(observed_q=per_agent_q * mask),
        mixer_inputs=lambda chosen, all_q: GUMModule.mixer_inputs(
            SimpleNamespace(model_config={"mixer_agent_input": mixer_agent_input}), chosen, all_q
        ),
    )
    config = SimpleNamespace(
        gamma=0.5,
        double_q=True,
        munchausen_tau=None,
        munchausen_params=None,
        regulariser="none",
        regularise_against="self",
        unmix=unmix,
        cql_alpha=1.0,
        cql_mu="greedy",
        unmix_eps=1e-3,
        target_gap=1.0,
        beta_samples=1,
        finetune_kl_tau=1.0,
        mixed_gap_grad=mixed_gap_grad,
    )
    learner = SimpleNamespace(
        config=config,
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        pretrained_kl_penalty=lambda *args: 0.0,
        log_step_metrics=lambda module_id, metrics: logged.update(metrics),
    )
    learner.reference_q = lambda *args: GUMLearner.reference_q(learner, *args)
    batch = {
        Columns.OBS: {"obs": torch.zeros(1, 2, 1), "mask": torch.ones(1, 2)},
        Columns.NEXT_OBS: {"obs": torch.zeros(1, 2, 1), "mask": torch.ones(1, 2)},
        Columns.ACTIONS: torch.tensor([[0, 0]]),
        Columns.REWARDS: torch.tensor([1.0]),
        Columns.TERMINATEDS: torch.tensor([0.0]),
        "n_step": torch.tensor([1]),
    }
    fwd_out = {
        "q": q,
        "q_target": q.detach(),
        "q_next": torch.tensor([[[0.0, 1.0], [1.0, 0.0]]]),  # the online network picks (1, 0) ...
        "q_next_target": torch.tensor([[[4.0, 6.0], [8.0, 2.0]]]),  # ... the target network values them 6 and 8
    }
    return GUMLearner.compute_loss_for_module(learner, module_id="m", config=None, batch=batch, fwd_out=fwd_out), logged


def test_gum_loss_matches_a_hand_computed_batch():
    # Q_mix = 2 * (masked sum of the agents' Qs); beta's one sample is the greedy joint action (1, 0)
    q = torch.tensor([[[1.0, 3.0], [2.0, 0.0]]], requires_grad=True)
    total, logged = hand_computed_loss(q, lambda q_taken: 2 * q_taken.sum(-1), torch.tensor([[[1, 0]]]))
    # Q taken (1, 2). Independent: targets 1 + 0.5 * (6, 8) = (4, 5), TD_ind = (3^2 + 3^2) / 2 = 9. Mixed: Q_mix =
    # 2 * 3 = 6, target 1 + 0.5 * 2 * 14 = 15, TD_mix = 81. Gaps (mu = max): independent mean(3 - 2, 2 - 2) = 0.5;
    # mixed Q_mix(greedy (1, 0)) - Q_mix(beta's sample (1, 0)) = 0. Inverse weights 1 / (gap + 1e-3), normalised.
    inverse = torch.tensor([1 / 0.501, 1 / 0.001])
    w_ind, w_mix = (inverse / inverse.sum()).tolist()
    expected = w_ind * (9 + 0.5) + w_mix * (81 + 0.0) + 0.7  # + the behaviour model's loss
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert logged["gap_ind"].item() == pytest.approx(0.5) and logged["gap_mix"].item() == pytest.approx(0.0)
    assert logged["w_mix"].item() == pytest.approx(w_mix, rel=1e-5)
    torch.testing.assert_close(logged["observed_q"], torch.tensor([[1.0, 2.0]]))  # the mixer sees the Qs taken


@pytest.mark.parametrize("unmix, kept", [("independent", "ind"), ("pooled", "mix")])
def test_a_fixed_weighting_keeps_one_estimators_loss_whatever_the_gaps(unmix, kept):
    q = torch.tensor([[[1.0, 3.0], [2.0, 0.0]]], requires_grad=True)
    total, logged = hand_computed_loss(q, lambda q_taken: 2 * q_taken.sum(-1), torch.tensor([[[1, 0]]]), unmix=unmix)
    # the batch of the hand-computed test above: TD_ind 9, gap_ind 0.5; TD_mix 81, gap_mix 0; behaviour loss 0.7
    assert total.item() == pytest.approx({"ind": 9 + 0.5, "mix": 81 + 0.0}[kept] + 0.7, rel=1e-5)
    assert logged[f"w_{kept}"].item() == 1.0 and sum(logged[f"w_{k}"].item() for k in ("ind", "mix")) == 1.0
    total.backward()
    # d/dq of the kept loss alone. Independent: the TD's Q_taken - (4, 5) on the taken actions (0, 0), and the gap's
    # (one_hot(greedy) - beta) / 2 agents: agent 0 (greedy 1, beta (0.5, 0.5)) -0.25, +0.25; agent 1 (greedy 0 = beta)
    # 0. Mixed: 2 (Q_mix - 15) dQ_mix/dQ_a = 2 * (6 - 15) * 2 on the taken actions; the gap's two joint actions are
    # the same, so its gradient cancels.
    expected = {
        "ind": torch.tensor([[[-3.0 - 0.25, 0.25], [-3.0, 0.0]]]),
        "mix": torch.tensor([[[2 * (6.0 - 15.0) * 2, 0.0], [2 * (6.0 - 15.0) * 2, 0.0]]]),
    }[kept]
    torch.testing.assert_close(q.grad, expected)


def test_a_centred_mixer_input_mixes_each_agents_q_less_its_mean_and_leaves_the_independent_estimate():
    q = torch.tensor([[[1.0, 3.0], [2.0, 0.0]]], requires_grad=True)
    total, logged = hand_computed_loss(
        q, lambda inputs: 2 * inputs.sum(-1), torch.tensor([[[1, 0]]]), mixer_agent_input="centred"
    )
    # The agents' mean Qs (2, 1): the mixer mixes the taken (1, 2) as (-1, 1), Q_mix = 0. Its target: the next values
    # (6, 8) less the target network's means (5, 5), (1, 3), so 1 + 0.5 * 2 * 4 = 5 and TD_mix = 25. The independent
    # TD (9) and gap (0.5) read the Qs themselves; the mixed gap compares greedy (1, 0) with beta's (1, 0): 0.
    inverse = torch.tensor([1 / 0.501, 1 / 0.001])
    w_ind, w_mix = (inverse / inverse.sum()).tolist()
    assert total.item() == pytest.approx(w_ind * (9 + 0.5) + w_mix * 25 + 0.7, rel=1e-5)
    assert logged["q_mix_mean"].item() == pytest.approx(0.0) and logged["td_ind"].item() == pytest.approx(9.0)
    torch.testing.assert_close(logged["observed_q"], torch.tensor([[-1.0, 1.0]]))


def test_centred_mixer_inputs_keep_the_greedy_action_and_drop_each_agents_level():
    centred = SimpleNamespace(model_config={"mixer_agent_input": "centred"})
    q = torch.tensor([[[1.0, 3.0, 2.0], [-150.0, -152.0, -149.0]]])  # [B=1, n=2, A=3]
    greedy = chosen_action_values(q, q.argmax(-1))  # [1, 2]
    every_action = q.permute(2, 0, 1)  # [A, B, n]: each joint action (u, u) as a leading dimension
    inputs = GUMModule.mixer_inputs(centred, every_action, q)
    torch.testing.assert_close(inputs, every_action - q.mean(-1))
    torch.testing.assert_close(inputs.max(0).values, GUMModule.mixer_inputs(centred, greedy, q))
    shifted = torch.tensor([[[100.0], [-40.0]]])  # a level per agent, as the team's return gives its Qs
    torch.testing.assert_close(GUMModule.mixer_inputs(centred, every_action + shifted.squeeze(-1), q + shifted), inputs)
    plain = SimpleNamespace(model_config={})
    torch.testing.assert_close(GUMModule.mixer_inputs(plain, every_action, q), every_action)


def test_with_mixed_gap_grad_agents_the_mixed_gap_trains_the_agents_and_not_the_mixer():
    # Q_mix = scale * (sum of the agents' Qs), scale a mixer parameter at 2; beta samples (0, 0), greedy is (1, 0):
    # gap_mix = scale * ((3 + 2) - (1 + 2)) = 2 * scale, its derivative in scale 2
    grads = {}
    for mode in ("all", "agents"):
        q = torch.tensor([[[1.0, 3.0], [2.0, 0.0]]], requires_grad=True)
        scale = torch.tensor(2.0, requires_grad=True)
        total, logged = hand_computed_loss(
            q, lambda q_taken, scale=scale: scale * q_taken.sum(-1), torch.tensor([[[0, 0]]]), mode,
            fixed_mix=lambda q_taken, scale=scale: scale.detach() * q_taken.sum(-1),
        )  # fmt: skip
        total.backward()
        grads[mode] = (scale.grad.item(), q.grad.clone(), logged["w_mix"].item(), logged["gap_mix"].item())
    assert grads["all"][3] == grads["agents"][3] == pytest.approx(4.0), "the same gap either way"
    w_mix, cql_alpha = grads["all"][2], 1.0
    # the penalty's w_mix * cql_alpha * d(gap_mix)/d(scale) is the only difference in the mixer's gradient ...
    assert grads["all"][0] - grads["agents"][0] == pytest.approx(w_mix * cql_alpha * 2.0, rel=1e-5)
    # ... and the agents' Qs get the same gradient: the gap still lowers the greedy action's Q through the mixer
    torch.testing.assert_close(grads["all"][1], grads["agents"][1])
