"""The value learners' whole losses (IQL, QMIX, VDN) against a hand-computed batch: double-Q targets, n-step
discounts, terminations, agents absent at the step or at the next one, and TD(lambda) returns over sequences."""

from types import SimpleNamespace

import pytest
import torch
from ray.rllib.core import Columns

from rl_algos.common.losses.value import sequence_lambda_returns
from rl_algos.iql.learner import IQLLearner
from rl_algos.qmix.learner import QMIXLearner

GAMMA = 0.5


def batch_and_outputs(terminated_second: float) -> tuple[dict, dict]:
    # Two transitions, two agent slots, two actions. Transition 0: both agents act, agent 1 has left by the next
    # step (n-step 1). Transition 1: agent 1 is absent throughout (n-step 2).
    batch = {
        Columns.OBS: {"mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]])},
        Columns.NEXT_OBS: {"mask": torch.tensor([[1.0, 0.0], [1.0, 0.0]])},
        Columns.ACTIONS: torch.tensor([[1, 0], [0, 0]]),
        Columns.REWARDS: torch.tensor([1.0, -1.0]),
        Columns.TERMINATEDS: torch.tensor([0.0, terminated_second]),
        "n_step": torch.tensor([1, 2]),
    }
    fwd_out = {
        "q": torch.tensor([[[1.0, 2.0], [3.0, 0.0]], [[0.5, -1.0], [0.0, 0.0]]], requires_grad=True),
        # the online network picks (0, 1) and (1, 0) at the next steps; the target network evaluates them
        "q_next": torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[0.0, 1.0], [1.0, 0.0]]]),
        "q_next_target": torch.tensor([[[4.0, 10.0], [6.0, 8.0]], [[2.0, 3.0], [5.0, 7.0]]]),
    }
    return batch, fwd_out


def learner_stub(module, **config) -> tuple[SimpleNamespace, list[dict]]:
    logged: list[dict] = []
    settings = {
        "gamma": GAMMA,
        "double_q": True,
        "munchausen_params": None,
        "munchausen_tau": None,
        "td_lambda": None,
    } | config
    learner = SimpleNamespace(
        config=SimpleNamespace(**settings, finetune_kl_tau=1.0),
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        pretrained_kl_penalty=lambda *args: 0.0,
        log_step_metrics=lambda module_id, metrics: logged.append(metrics),
    )
    return learner, logged


def mixing_module(mix) -> tuple[SimpleNamespace, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A stand-in module with the mixer `mix`; it records the (agent Qs, present mask) the learner lets it
    observe (a QMIX mixer's running scale, `mixer_q_norm`)."""
    observed: list[tuple[torch.Tensor, torch.Tensor]] = []
    module = SimpleNamespace(mix=mix, observe_agent_qs=lambda qs, mask: observed.append((qs, mask)))
    return module, observed


@pytest.mark.parametrize("terminated_second", [0.0, 1.0])
def test_iql_loss_matches_a_hand_computed_batch(terminated_second):
    batch, fwd_out = batch_and_outputs(terminated_second)
    learner, logged = learner_stub(SimpleNamespace(), reward="team")
    loss = IQLLearner.compute_loss_for_module(learner, module_id="m", config=None, batch=batch, fwd_out=fwd_out)
    # Q taken: (2, 3) and (0.5, absent). Double-Q next values: (4, 8) and (3, 5), masked by presence at the next
    # step. Targets: 1 + 0.5 * 4 = 3 and 1 + 0.5 * 0 = 1 (agent 1 left); -1 + 0.25 * 3 = -0.25, or -1 if terminated.
    second_target = -1.0 if terminated_second else -0.25
    expected = ((2 - 3) ** 2 + (3 - 1) ** 2 + (0.5 - second_target) ** 2) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logged[0]["q_taken_mean"].item() == pytest.approx((2 + 3 + 0.5) / 3)
    loss.backward()
    grad = fwd_out["q"].grad
    assert grad[1, 1].abs().sum() == 0, "an absent agent gets no gradient"
    assert grad[0, 0, 0] == 0 and grad[0, 0, 1] != 0, "only the taken action's Q is trained"


@pytest.mark.parametrize("terminated_second", [0.0, 1.0])
def test_qmix_loss_matches_a_hand_computed_batch(terminated_second):
    # A stand-in mixer, 2 * (masked sum of the agents' Qs) + the number of present agents, with its target copy
    # giving the same; the mixer's own shape is tested in test_value_networks.py.
    def mix(q, obs, target=False):
        return 2 * (q * obs["mask"]).sum(-1) + obs["mask"].sum(-1)

    batch, fwd_out = batch_and_outputs(terminated_second)
    module, observed = mixing_module(mix)
    learner, logged = learner_stub(module)
    loss = QMIXLearner.compute_loss_for_module(learner, module_id="m", config=None, batch=batch, fwd_out=fwd_out)
    # the mixer observes the Qs it mixes once, detached, with the agents present at the step
    ((observed_qs, observed_mask),) = observed
    assert not observed_qs.requires_grad
    torch.testing.assert_close(observed_qs * observed_mask, torch.tensor([[2.0, 3.0], [0.5, 0.0]]))
    torch.testing.assert_close(observed_mask, batch[Columns.OBS]["mask"])
    # Q_tot: 2 * (2 + 3) + 2 = 12 and 2 * 0.5 + 1 = 2. Next Q_tot over the agents present next: 2 * 4 + 1 = 9 and
    # 2 * 3 + 1 = 7. Targets: 1 + 0.5 * 9 = 5.5; -1 + 0.25 * 7 = 0.75, or -1 if terminated.
    second_target = -1.0 if terminated_second else 0.75
    expected = ((12 - 5.5) ** 2 + (2 - second_target) ** 2) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logged[0]["target_mean"].item() == pytest.approx((5.5 + second_target) / 2)
    loss.backward()
    # dL/dQ_a(u_a) = 2 (Q_tot - y) / B * dQ_tot/dQ_a = (12 - 5.5) * 2 for the taken actions of present agents
    assert fwd_out["q"].grad[0, 0, 1].item() == pytest.approx((12 - 5.5) * 2)
    assert fwd_out["q"].grad[1, 1].abs().sum() == 0


def test_qmix_without_double_q_bootstraps_from_the_target_network_s_max():
    batch, fwd_out = batch_and_outputs(0.0)
    learner, _ = learner_stub(mixing_module(lambda q, obs, target=False: (q * obs["mask"]).sum(-1))[0], double_q=False)
    loss = QMIXLearner.compute_loss_for_module(learner, module_id="m", config=None, batch=batch, fwd_out=fwd_out)
    # VDN's sum: Q_tot 5 and 0.5; next: max of the target network, 10 and 3, for the agent present next
    expected = ((5 - (1 + 0.5 * 10)) ** 2 + (0.5 - (-1 + 0.25 * 3)) ** 2) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


# Three sequences of three steps (gamma 0.5, lambda 0.5), V' the bootstrap value after each step: one running
# through, one whose episode terminates at its second step (the third is padding), one truncated there.
SEQUENCE_REWARDS = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 0.0], [1.0, 2.0, 0.0]])
SEQUENCE_TERMINATEDS = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
SEQUENCE_VALID = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
NEXT_VALUES = torch.tensor([[10.0, 20.0, 30.0], [10.0, 20.0, 30.0], [10.0, 20.0, 30.0]])


@pytest.mark.parametrize(
    "lambda_, expected",
    [
        # G_2 = 3 + 0.5 * 30 = 18; G_1 = 2 + 0.5 (0.5 * 20 + 0.5 * 18) = 11.5; G_0 = 1 + 0.5 (0.5 * 10 + 0.5 * 11.5).
        # Terminated: G_1 = 2, G_0 = 1 + 0.5 (5 + 1) = 4. Truncated: G_1 = 2 + 0.5 * 20 = 12, G_0 = 1 + 0.5 (5 + 6).
        (0.5, [[6.375, 11.5, 18.0], [4.0, 2.0], [6.5, 12.0]]),
        (0.0, [[6.0, 12.0, 18.0], [6.0, 2.0], [6.0, 12.0]]),  # the 1-step targets r + gamma (1 - d) V'
        (1.0, [[6.5, 11.0, 18.0], [2.0, 2.0], [7.0, 12.0]]),  # discounted rewards, bootstrapped where each ends
    ],
)
def test_lambda_returns_match_hand_computed_sequences(lambda_, expected):
    def returns_of(next_values):  # the sequences folded into the batch, as the learners get them
        folded = sequence_lambda_returns(
            SEQUENCE_REWARDS.reshape(-1),
            SEQUENCE_TERMINATEDS.reshape(-1),
            next_values.reshape(9, *next_values.shape[2:]),
            SEQUENCE_VALID.reshape(-1),
            (3, 3),
            GAMMA,
            lambda_,
        )
        return folded.reshape(3, 3, *folded.shape[1:])

    returns = returns_of(NEXT_VALUES)
    for row, values in enumerate(expected):
        assert returns[row, : len(values)].tolist() == pytest.approx(values)
    # per agent ([B * T, n]): each agent's column is the team computation on its own values
    agent_returns = returns_of(torch.stack([NEXT_VALUES, 2 * NEXT_VALUES], dim=-1))
    assert torch.allclose(agent_returns[..., 0], returns)
    assert torch.allclose(agent_returns[..., 1], returns_of(2 * NEXT_VALUES))


def test_qmix_loss_on_sequences_regresses_on_lambda_returns_over_valid_steps():
    # One agent slot, VDN's sum as the mixer; the online and target networks agree, so the bootstrap value after
    # each step is the next observation's max Q: 10, 20, 30, on the terminated sequence above (its second row).
    q_next = torch.tensor([10.0, 20.0, 30.0]).reshape(1, 3, 1, 1).expand(1, 3, 1, 2).clone()
    q_next[..., 0] = 0.0
    batch = {
        Columns.OBS: {"mask": torch.ones(1, 3, 1)},
        Columns.NEXT_OBS: {"mask": torch.ones(1, 3, 1)},
        Columns.ACTIONS: torch.ones(1, 3, 1, dtype=torch.long),
        Columns.REWARDS: SEQUENCE_REWARDS[1:2],
        Columns.TERMINATEDS: SEQUENCE_TERMINATEDS[1:2],
        Columns.LOSS_MASK: SEQUENCE_VALID[1:2],
        "n_step": torch.ones(1, 3, dtype=torch.long),
    }
    fwd_out = {"q": torch.full((1, 3, 1, 2), 5.0, requires_grad=True), "q_next": q_next, "q_next_target": q_next}
    module, observed = mixing_module(lambda q, obs, target=False: q.sum(-1))
    learner, logged = learner_stub(module, td_lambda=0.5)
    loss = QMIXLearner.compute_loss_for_module(learner, module_id="m", config=None, batch=batch, fwd_out=fwd_out)
    assert observed[0][1].reshape(-1).tolist() == [1.0, 1.0, 0.0], "the padding step's Qs are not observed"
    # the terminated sequence: targets 4 and 2 on its two steps; its padding step is out of the loss
    assert loss.item() == pytest.approx(((5 - 4) ** 2 + (5 - 2) ** 2) / 2)
    assert logged[0]["target_mean"].item() == pytest.approx(3.0)
