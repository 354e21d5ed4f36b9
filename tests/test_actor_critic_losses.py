"""Actor-critic targets and losses against hand-computed values; padded agents give and take no credit."""

import math

import pytest
import torch
from torch.nn import functional as F

from policies.networks.masked import masked_entropy, masked_mean
from policies.team_actor import TeamSquashedGaussian
from rl_algos.central_v_sac.learner import sac_temperature_loss, soft_values
from rl_algos.common.losses.actor_critic import (
    backward_recursion,
    coma_advantages,
    normalized,
    policy_gradient_loss,
    rollout_returns,
    shared_experience_losses,
    td_lambda_targets,
)
from rl_algos.maddpg.learner import logits_regulariser, smoothed_target_actions


def test_coma_advantage_matches_a_hand_computed_two_agent_three_action_batch():
    q = torch.tensor([[[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]]])  # [B=1, n=2, A=3]
    pi = torch.tensor([[[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]]])
    actions = torch.tensor([[1, 2]])
    mask = torch.ones(1, 2)
    # agent 0: Q(u=1) = 2, baseline 0.2*1 + 0.3*2 + 0.5*3 = 2.3 -> -0.3
    # agent 1: Q(u=2) = 4, baseline 0.5*0 + 0.25*-1 + 0.25*4 = 0.75 -> 3.25
    advantages = coma_advantages(q, pi, actions, mask)
    assert torch.allclose(advantages, torch.tensor([[-0.3, 3.25]]))

    padded = coma_advantages(
        torch.cat([q, torch.randn(1, 2, 3)], dim=1),
        torch.cat([pi, torch.full((1, 2, 3), 1 / 3)], dim=1),
        torch.cat([actions, torch.tensor([[0, 2]])], dim=1),
        torch.tensor([[1.0, 1.0, 0.0, 0.0]]),
    )
    assert torch.allclose(padded[:, :2], advantages), "padded agents change no present agent's advantage"
    assert torch.equal(padded[:, 2:], torch.zeros(1, 2)), "padded agents take no credit"


def test_rollout_returns_bootstrap_at_cuts_and_stop_at_episode_ends():
    rewards = torch.tensor([1.0, 1.0, 1.0])
    next_values = torch.tensor([7.0, 8.0, 10.0])  # V(s_1), V(s_2), V(s_3)
    no_ends, last_cut = torch.zeros(3), torch.tensor([0.0, 0.0, 1.0])
    returns = rollout_returns(rewards, no_ends, last_cut, next_values, gamma=0.5)
    # R_2 = 1 + 0.5 * 10 = 6, R_1 = 1 + 0.5 * 6 = 4, R_0 = 1 + 0.5 * 4 = 3
    assert torch.allclose(returns, torch.tensor([3.0, 4.0, 6.0]))
    ended = rollout_returns(rewards, torch.tensor([0.0, 1.0, 0.0]), last_cut, next_values, gamma=0.5)
    assert torch.allclose(ended, torch.tensor([1.5, 1.0, 6.0])), "no value flows across a terminated step"
    # two rollouts end to end, the first cut (truncated) after step 0: it bootstraps from V(s_1) = 7
    two = rollout_returns(rewards, no_ends, torch.tensor([1.0, 0.0, 1.0]), next_values, gamma=0.5)
    assert torch.allclose(two, torch.tensor([4.5, 4.0, 6.0]))
    per_agent = rollout_returns(torch.ones(3), no_ends, last_cut, torch.tensor([[0.0, 10.0]] * 3), gamma=0.5)
    assert torch.allclose(per_agent[:, 1], returns) and torch.allclose(per_agent[:, 0], torch.tensor([1.75, 1.5, 1.0]))


def test_td_lambda_targets_interpolate_between_one_step_td_and_monte_carlo():
    rewards = torch.tensor([1.0, 2.0, 3.0])
    terminateds, last_cut = torch.zeros(3), torch.tensor([0.0, 0.0, 1.0])
    next_values = torch.tensor([10.0, 20.0, 30.0])  # Q'(s_1, u_1), Q'(s_2, u_2), Q'(s_3, u_3)
    gamma = 0.9
    one_step = td_lambda_targets(rewards, terminateds, last_cut, next_values, gamma, lam=0.0)
    assert torch.allclose(one_step, rewards + gamma * next_values)
    monte_carlo = td_lambda_targets(rewards, terminateds, last_cut, next_values, gamma, lam=1.0)
    assert torch.allclose(monte_carlo, rollout_returns(rewards, terminateds, last_cut, next_values, gamma))
    # lambda = 0.8 by hand: G_2 = 3 + 0.9 * 30 = 30; G_1 = 2 + 0.9 * (0.2 * 20 + 0.8 * 30) = 27.2;
    # G_0 = 1 + 0.9 * (0.2 * 10 + 0.8 * 27.2) = 22.384
    lam_08 = td_lambda_targets(rewards, terminateds, last_cut, next_values, gamma, 0.8)
    assert torch.allclose(lam_08, torch.tensor([22.384, 27.2, 30.0]))
    # a cut after step 1 (a second rollout starts at step 2): G_1 = 2 + 0.9 * 20 = 20
    cut = td_lambda_targets(rewards, terminateds, torch.tensor([0.0, 1.0, 1.0]), next_values, gamma, 0.8)
    assert torch.allclose(cut[1:], torch.tensor([20.0, 30.0]))
    assert torch.allclose(cut[0], torch.tensor(1 + 0.9 * (0.2 * 10 + 0.8 * 20.0)))


def test_policy_gradient_and_entropy_ignore_padded_agents():
    logits = torch.randn(4, 3, 5, requires_grad=True)
    log_probs = F.log_softmax(logits, dim=-1)[..., 0]  # [B, n], per agent
    advantages = torch.randn(4, 3)
    mask = torch.tensor([[1.0, 1.0, 0.0]]).expand(4, 3)
    loss = policy_gradient_loss(log_probs, advantages, mask) - 0.01 * masked_entropy(logits, mask)
    loss.backward()
    assert torch.equal(logits.grad[:, 2], torch.zeros(4, 5)), "no gradient reaches a padded agent"
    assert logits.grad[:, :2].abs().sum() > 0
    expected = -(log_probs[:, :2] * advantages[:, :2]).mean()
    assert torch.allclose(policy_gradient_loss(log_probs, advantages, mask), expected)
    uniform = torch.zeros(2, 3, 4)
    assert masked_entropy(uniform, torch.ones(2, 3)).item() == pytest.approx(math.log(4))


def test_gaussian_entropy_is_the_closed_form_over_present_agents():
    log_std = torch.tensor([[[0.0, 0.0], [math.log(2.0), 0.0], [5.0, 5.0]]])  # [B=1, n=3, k=2]; slot 2 absent
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    per_dim = 0.5 * math.log(2 * math.pi * math.e)
    expected = (2 * per_dim + (2 * per_dim + math.log(2.0))) / 2
    policy = TeamSquashedGaussian.from_logits(torch.cat([torch.zeros_like(log_std), log_std], dim=-1))
    assert masked_mean(policy.pre_squash_entropy(), mask).item() == pytest.approx(expected)


def test_sac_temperature_moves_toward_the_target_entropy():
    target_entropy = 0.5 * math.log(5)
    for entropy, direction in ((torch.tensor(math.log(5)), -1), (torch.tensor(0.1), 1)):
        log_alpha = torch.zeros((), requires_grad=True)
        optimizer = torch.optim.SGD([log_alpha], lr=0.1)
        for _ in range(10):
            optimizer.zero_grad()
            sac_temperature_loss(log_alpha, entropy, target_entropy).backward()
            optimizer.step()
        # too random a policy (entropy above target): alpha falls; too greedy: alpha rises
        assert direction * log_alpha.item() > 0


def test_soft_values_of_a_uniform_policy_add_alpha_times_its_entropy():
    q = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    assert soft_values(q, torch.zeros(1, 4), alpha=0.5).item() == pytest.approx(3.0 + 0.5 * math.log(4))


def test_straight_through_gumbel_softmax_is_one_hot_forward_with_gradients_to_the_logits():
    logits = torch.randn(16, 3, 5, requires_grad=True)
    sample = F.gumbel_softmax(logits, tau=1.0, hard=True)
    assert torch.equal(sample.sum(-1), torch.ones(16, 3)) and set(sample.unique().tolist()) == {0.0, 1.0}
    (sample * torch.randn(16, 3, 5)).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_td3_target_smoothing_noise_is_clipped_and_actions_stay_in_bounds():
    torch.manual_seed(0)
    actions = torch.zeros(10_000, 4)
    smoothed = smoothed_target_actions(actions, noise_std=1.0, noise_clip=0.5)
    assert smoothed.abs().max().item() == pytest.approx(0.5), "noise is clipped to +- noise_clip"
    assert smoothed_target_actions(torch.full((100, 4), 0.9), 1.0, 0.5).max().item() <= 1.0, "actions stay in bounds"


def test_logits_regulariser_is_a_masked_mean_of_squares():
    logits = torch.tensor([[[1.0, 3.0], [100.0, 100.0]]])
    assert logits_regulariser(logits, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1e-3 * 5.0)


def test_normalized_advantages_have_zero_mean_unit_std_over_present_agents_only():
    advantages = torch.tensor([[1.0, 3.0, 100.0], [5.0, 7.0, -100.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    result = normalized(advantages, mask)
    present = result[:, :2]
    assert present.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert present.pow(2).mean().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.equal(result[:, 2], torch.zeros(2))


def test_shared_experience_losses_match_a_hand_computed_pair_and_skip_self_and_absent_agents():
    # agents 0, 1 present, 2 absent; pi_0(u_1 | o_1) = 0.5 against pi_1's own 0.25 (ratio 2), pi_1(u_0 | o_0) = 0.25
    # against pi_0's own 0.5 (ratio 0.5); advantages A_0(o_1) = 3 - 1 = 2, A_1(o_0) = 1 - 2 = -1. The diagonal (an
    # agent's own experience) and the absent agent carry values that would change the result if they counted.
    half, quarter = math.log(0.5), math.log(0.25)
    log_probs_as = torch.tensor([[[-9.0, half, -9.0], [quarter, -9.0, -9.0], [-9.0, -9.0, -9.0]]])
    own_log_probs = torch.tensor([[half, quarter, -9.0]])
    values_as = torch.tensor([[[5.0, 1.0, 7.0], [2.0, 5.0, 7.0], [7.0, 7.0, 7.0]]])
    returns_as = torch.tensor([[[0.0, 3.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    actor, critic = shared_experience_losses(log_probs_as, own_log_probs, values_as, returns_as, mask, 3.0, False)
    # actor: -(2 * log 0.5 * 2 + 0.5 * log 0.25 * -1) / 2 agents = 1.5 log 2; critic: (2 * 2^2 + 0.5 * 1^2) / 2
    assert actor.item() == pytest.approx(1.5 * math.log(2.0), rel=1e-5)
    assert critic.item() == pytest.approx(4.25, rel=1e-5)
    clipped_actor, clipped_critic = shared_experience_losses(
        log_probs_as, own_log_probs, values_as, returns_as, mask, 1.0, False
    )
    assert clipped_actor.item() == pytest.approx(0.5 * math.log(2.0), rel=1e-5), "ratio 2 clipped to 1"
    assert clipped_critic.item() == pytest.approx(2.25, rel=1e-5)


@pytest.mark.parametrize("steps", [1, 2, 7, 64, 1000])
def test_backward_recursion_is_the_step_by_step_loop(steps):
    torch.manual_seed(steps)
    inputs = torch.randn(steps, 3)
    decays = torch.rand(steps, 1) * (torch.rand(steps, 1) > 0.1)  # some zeros: cuts and episode ends
    expected = torch.empty_like(inputs)
    following = torch.zeros(3)
    for t in range(steps - 1, -1, -1):
        following = inputs[t] + decays[t] * following
        expected[t] = following
    assert torch.allclose(backward_recursion(inputs, decays), expected, atol=1e-5)
    assert torch.allclose(backward_recursion(inputs[:, 0], decays[:, 0]), expected[:, 0], atol=1e-5)
