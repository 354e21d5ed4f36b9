"""The A2C-family learners' whole losses (Central-V, IAC, COMA) against a hand-computed two-step rollout: bootstrapped
returns and TD(lambda) targets, team and per-agent advantages, an agent absent from the second step."""

import math
from types import SimpleNamespace

import pytest
import torch
from ray.rllib.core import Columns

from rl_algos.central_v.learner import CentralVLearner
from rl_algos.coma.learner import COMALearner
from rl_algos.common.learners.connectors import ROLLOUT_CUTS

LOG_HALF = math.log(0.5)


def rollout(terminated_last: float) -> dict:
    # One rollout of two steps, two agent slots, two actions; agent 1 is absent from step 1 on. The rollout is cut
    # after step 1 (its last sampled step).
    return {
        Columns.OBS: {"mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]])},
        Columns.NEXT_OBS: {"mask": torch.tensor([[1.0, 0.0], [1.0, 0.0]])},
        Columns.ACTIONS: torch.tensor([[0, 1], [1, 0]]),
        Columns.REWARDS: torch.tensor([1.0, 2.0]),
        Columns.TERMINATEDS: torch.tensor([0.0, terminated_last]),
        Columns.TRUNCATEDS: torch.tensor([0.0, 0.0]),
        ROLLOUT_CUTS: torch.tensor([0.0, 1.0]),
    }


def learner_stub(module) -> tuple[SimpleNamespace, list[dict]]:
    logged: list[dict] = []
    learner = SimpleNamespace(
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        pretrained_kl_penalty=lambda *args: 0.0,
        log_update_metrics=lambda module_id, metrics: logged.append(metrics),
    )
    return learner, logged


def a2c_config() -> SimpleNamespace:
    return SimpleNamespace(
        gamma=0.5, td_lambda=0.5, vf_coeff=0.5, entropy_coeff=0.01, normalize_advantages=False, shared_experience=0.0
    )


@pytest.mark.parametrize("terminated_last", [0.0, 1.0])
def test_central_v_loss_matches_a_hand_computed_rollout(terminated_last):
    batch = rollout(terminated_last)
    learner, logged = learner_stub(SimpleNamespace(actor=SimpleNamespace(discrete=True)))
    values = torch.tensor([3.0, 1.0], requires_grad=True)  # the team critic's V(s_0), V(s_1)
    fwd_out = {"values": values, "next_values": torch.tensor([9.0, 4.0]), "logits": torch.zeros(2, 2, 2)}
    fwd_out["logits"].requires_grad_(True)
    total = CentralVLearner.compute_loss_for_module(
        learner, module_id="m", config=a2c_config(), batch=batch, fwd_out=fwd_out
    )
    # R_1 = 2 + 0.5 * V(s_2) = 4 (cut: bootstrap from the critic), or 2 if terminated; R_0 = 1 + 0.5 * R_1.
    # The team advantage R - V credited to every present agent: (R_0 - 3) twice, then (R_1 - 1) once.
    r1 = 2.0 if terminated_last else 4.0
    r0 = 1 + 0.5 * r1
    value_loss = ((3 - r0) ** 2 + (1 - r1) ** 2) / 2
    actor_loss = -LOG_HALF * (2 * (r0 - 3) + (r1 - 1)) / 3  # uniform policies: log pi = log 1/2
    expected = actor_loss + 0.5 * value_loss - 0.01 * -LOG_HALF
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert logged[0]["advantage_mean"].item() == pytest.approx((2 * (r0 - 3) + (r1 - 1)) / 3)
    total.backward()
    assert values.grad.tolist() == pytest.approx([0.5 * (3 - r0), 0.5 * (1 - r1)])
    assert fwd_out["logits"].grad[1, 1].abs().sum() == 0, "an absent agent's policy gets no gradient"


def test_iac_loss_uses_each_agent_s_own_values():
    batch = rollout(terminated_last=1.0)
    learner, _ = learner_stub(SimpleNamespace(actor=SimpleNamespace(discrete=True)))
    values = torch.tensor([[3.0, 0.5], [1.0, 0.0]])  # per-agent critics; agent 1's slot at step 1 is absent
    fwd_out = {"values": values, "next_values": torch.tensor([[9.0, 0.0], [4.0, 0.0]]), "logits": torch.zeros(2, 2, 2)}
    total = CentralVLearner.compute_loss_for_module(
        learner, module_id="m", config=a2c_config(), batch=batch, fwd_out=fwd_out
    )
    # R_1 = 2 (terminated) for both slots, R_0 = 1 + 0.5 * 2 = 2; present entries: (3 vs 2), (0.5 vs 2), (1 vs 2)
    advantages = [2 - 3, 2 - 0.5, 2 - 1]
    value_loss = sum(a**2 for a in advantages) / 3
    expected = -LOG_HALF * sum(advantages) / 3 + 0.5 * value_loss - 0.01 * -LOG_HALF
    assert total.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("terminated_last", [0.0, 1.0])
def test_coma_loss_matches_a_hand_computed_rollout(terminated_last):
    # A stand-in counterfactual critic: fixed Q(s, (u^-a, u'))_a for every agent a and action u' (its shape and
    # invariances are tested in test_actor_critic.py); the target critic gives q_target whatever the actions.
    q = torch.tensor([[[1.0, 3.0], [0.0, 2.0]], [[5.0, -1.0], [7.0, 7.0]]], requires_grad=True)
    q_target = torch.tensor([[[2.0, 4.0], [6.0, 8.0]], [[10.0, 10.0], [10.0, 10.0]]])
    module = SimpleNamespace(counterfactual_q=lambda obs, actions, target=False: q_target if target else q)
    learner, logged = learner_stub(module)
    # the policy after the cut is sampled: near-deterministic logits make it action 0
    next_logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]]).expand(2, 2, 2).clone()
    next_logits[1] = torch.tensor([50.0, -50.0])
    logits = torch.zeros(2, 2, 2, requires_grad=True)
    fwd_out = {"logits": logits, "next_logits": next_logits}
    total = COMALearner.compute_loss_for_module(
        learner, module_id="m", config=a2c_config(), batch=rollout(terminated_last), fwd_out=fwd_out
    )
    # Next joint actions: (1, 0) taken at step 1, then (0, 0) sampled after the cut. Target Q at them, masked by
    # presence at the next step: (4, 0) and (10, 0). TD(lambda), gamma = lambda = 0.5:
    # G_1 = 2 + 0.5 * (10, 0) = (7, 2) (cut; agent 1 has left, so it has no future value), or (2, 2) if terminated;
    # G_0 = 1 + 0.5 * (0.5 * (4, 0) + 0.5 * G_1).
    g1 = 2.0 if terminated_last else 7.0
    g0 = [1 + 0.5 * (0.5 * 4 + 0.5 * g1), 1 + 0.5 * (0.5 * 0 + 0.5 * 2.0)]
    critic_loss = ((1 - g0[0]) ** 2 + (2 - g0[1]) ** 2 + (-1 - g1) ** 2) / 3  # Q of the taken actions: 1, 2, -1
    # counterfactual advantages under uniform policies: 1 - 2, 2 - 1, -1 - 2
    actor_loss = -LOG_HALF * (-1 + 1 - 3) / 3
    expected = actor_loss + 0.5 * critic_loss - 0.01 * -LOG_HALF
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert logged[0]["q_taken_mean"].item() == pytest.approx((1 + 2 - 1) / 3)
    total.backward()
    assert q.grad[1, 1].abs().sum() == 0 and q.grad[0, 0, 1] == 0, "only present agents' taken actions are fitted"
    assert logits.grad[1, 1].abs().sum() == 0
