"""LICA: the mixing critic's invariances and the loss against a hand-computed batch."""

import math
from types import SimpleNamespace

import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from policies.networks.team_critics import MixingCritic
from rl_algos.common.learners.connectors import ROLLOUT_CUTS
from rl_algos.lica.learner import LICALearner


def test_mixing_critic_is_permutation_invariant_with_a_pooled_embedding_and_ignores_absent_agents():
    torch.manual_seed(0)
    critic = MixingCritic(obs_dim=3, n_actions=4, n_max=5, team_embedding="mean", hidden=(16,), obs_agent_id=False)
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0]]).repeat(6, 1)
    obs = torch.randn(6, 5, 3) * mask.unsqueeze(-1)
    probs = torch.softmax(torch.randn(6, 5, 4), dim=-1)
    q = critic(obs, probs, mask)
    assert q.shape == (6,)
    order = torch.tensor([2, 0, 1, 3, 4])
    assert torch.allclose(critic(obs[:, order], probs[:, order], mask[:, order]), q, atol=1e-5)
    other_absent = probs.clone()
    other_absent[:, 3:] = torch.softmax(torch.randn(6, 2, 4), dim=-1)
    assert torch.allclose(critic(obs, other_absent, mask), q, atol=1e-6), "absent agents' actions are ignored"
    moved = probs.clone()
    moved[:, 0] = torch.tensor([1.0, 0.0, 0.0, 0.0])
    assert not torch.allclose(critic(obs, moved, mask), q), "a present agent's distribution moves Q"


def test_lica_loss_matches_a_hand_computed_batch():
    # A stand-in critic linear in the per-agent distributions, Q(s, pi) = sum_a pi_a . W_a, W = [[1, 2], [3, 4]];
    # the target critic gives 5 and 7 at the two next states. Two steps, the rollout cut after the second.
    weights = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    module = SimpleNamespace(
        n_actions=2,
        critic=torch.nn.Linear(1, 1),
        mixed_q=lambda obs, probs, target=False: (
            torch.tensor([5.0, 7.0]) if target else (probs * weights).sum(dim=(-1, -2))
        ),
    )
    learner = SimpleNamespace(
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        pretrained_kl_penalty=lambda *args: 0.0,
        log_update_metrics=lambda *args: None,
    )
    config = SimpleNamespace(gamma=0.5, td_lambda=0.5, entropy_coeff=0.01, vf_coeff=0.5)
    batch = {
        Columns.OBS: {"mask": torch.ones(2, 2)},
        Columns.NEXT_OBS: {"mask": torch.ones(2, 2)},
        Columns.ACTIONS: torch.tensor([[0, 1], [1, 1]]),
        Columns.REWARDS: torch.tensor([1.0, 2.0]),
        Columns.TERMINATEDS: torch.tensor([0.0, 0.0]),
        Columns.TRUNCATEDS: torch.tensor([0.0, 0.0]),
        ROLLOUT_CUTS: torch.tensor([0.0, 1.0]),
    }
    fwd_out = {"logits": torch.zeros(2, 2, 2, requires_grad=True), "next_logits": torch.zeros(2, 2, 2)}
    total = LICALearner.compute_loss_for_module(learner, module_id="m", config=config, batch=batch, fwd_out=fwd_out)
    # TD(lambda): G_1 = 2 + 0.5 * 7 = 5.5 (cut); G_0 = 1 + 0.5 * (0.5 * 5 + 0.5 * 5.5) = 3.625
    # Q taken: 1 + 4 = 5 and 2 + 4 = 6; Q of the uniform policies: 1.5 + 3.5 = 5; adaptive entropy H / sg(H) = 1
    critic = ((5 - 3.625) ** 2 + (6 - 5.5) ** 2) / 2
    assert total.item() == pytest.approx(-5.0 - 0.01 * 1.0 + 0.5 * critic, rel=1e-6)
    total.backward()
    assert fwd_out["logits"].grad.abs().sum() > 0, "the actor learns through the critic and the entropy"
    assert math.isfinite(float(fwd_out["logits"].grad.sum()))


def test_lica_needs_discrete_actions():
    multiwalker = {"scenario": "multiwalker", "n_agents": 2}
    with pytest.raises(ValueError, match="LICA needs discrete actions"):
        rl_algos.get_config("lica").environment("team", env_config=multiwalker).validate()
