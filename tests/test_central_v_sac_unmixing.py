"""Greedy unmixing in Central-V SAC: the critics' loss against a hand-computed batch, and short runs."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from rl_algos.central_v_sac.learner import CentralVSACLearner
from rl_algos.common import evaluate


def _unmixed_critic_loss(unmix: str) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Discrete actions: two agents, two actions, agent 1 absent at s'; uniform policies; alpha 0.5; Q_ind(o) =
    [[1, 3], [2, 4]], Q'_ind(o') = [[2, 2], [6, 6]]; the first pooled critic [[0, 2], [4, 2]] at the replayed joint
    action; actions [0, 1]; r = 1, gamma 0.5, one step; the pooled critics' TD loss 3 (given)."""
    q_ind, next_q_ind = torch.tensor([[[1.0, 3.0], [2.0, 4.0]]]), torch.tensor([[[2.0, 2.0], [6.0, 6.0]]])
    module = SimpleNamespace(
        discrete=True,
        logits=lambda obs: torch.zeros(1, 2, 2),
        independent_q=lambda obs, actions=None, target=False: next_q_ind if target else q_ind,
        log_lambdas=torch.zeros(2, requires_grad=True),
    )
    config = SimpleNamespace(gamma=0.5, unmix=unmix, cql_alpha=1.0, unmix_eps=1e-3, target_gap=1.0)
    batch = {
        Columns.OBS: {"mask": torch.tensor([[1.0, 1.0]])},
        Columns.NEXT_OBS: {"mask": torch.tensor([[1.0, 0.0]])},
        Columns.ACTIONS: torch.tensor([[0, 1]]),
        Columns.REWARDS: torch.tensor([1.0]),
        Columns.TERMINATEDS: torch.tensor([0.0]),
        "n_step": torch.tensor([1]),
    }
    q1_all = torch.tensor([[[0.0, 2.0], [4.0, 2.0]]])
    metrics = {}
    loss, weights = CentralVSACLearner.unmixed_critic_loss(
        SimpleNamespace(config=config),
        module,
        batch,
        torch.tensor(0.5),
        torch.tensor(3.0),
        q1_all,
        torch.tensor([[0.0, 2.0]]),
        torch.zeros(1, 2, 2),
        metrics,
    )
    return loss, weights, metrics


def test_unmixed_soft_critic_loss_matches_a_hand_computed_batch():
    # soft next value of agent 0: mean(2, 2) + 0.5 log 2 (uniform policy's entropy bonus); agent 1 left: 0.
    targets = torch.tensor([1.0 + 0.5 * (2.0 + 0.5 * math.log(2.0)), 1.0])
    td_ind = float(((torch.tensor([1.0, 4.0]) - targets) ** 2).mean())
    gap_ind = ((1 + 3) / 2 - 1 + (2 + 4) / 2 - 4) / 2  # E_pi Q_ind - Q_ind(u_a), averaged: 0
    gap_pool = ((0 + 2) / 2 - 0 + (4 + 2) / 2 - 2) / 2  # 1
    loss, weights, metrics = _unmixed_critic_loss("inverse")
    assert metrics["td_ind"].item() == pytest.approx(td_ind, rel=1e-5)
    assert metrics["gap_ind"].item() == pytest.approx(gap_ind, abs=1e-6)
    assert metrics["gap_pool"].item() == pytest.approx(gap_pool, rel=1e-6)
    inverse = torch.tensor([1 / (abs(gap_ind) + 1e-3), 1 / (gap_pool + 1e-3)])
    expected = inverse / inverse.sum()
    assert torch.allclose(weights, expected)
    assert loss.item() == pytest.approx(float(expected[0] * (td_ind + gap_ind) + expected[1] * (3.0 + gap_pool)))
    loss, weights, _ = _unmixed_critic_loss("lagrange")
    assert torch.allclose(weights, torch.tensor([0.5, 0.5]))
    assert loss.item() == pytest.approx(td_ind + 3.0, rel=1e-5), "the multipliers' term cancels the gaps' at lambda 1"


@pytest.mark.parametrize(
    "env_config, unmix, embedding",
    [
        ({"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10}, "direct", "graph"),
        ({"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 20}, "inverse", "concat"),
    ],
    ids=["spread-direct-graph", "multiwalker-inverse-concat"],
)
def test_central_v_sac_with_greedy_unmixing_trains_checkpoints_and_evaluates_at_a_larger_team(
    env_config, unmix, embedding, ray_session, tmp_path
):
    config = (
        rl_algos.get_config("central_v_sac")
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(team_embedding=embedding, learning_starts=50, train_batch_size_per_learner=32, unmix=unmix)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    for _ in range(3):
        result = trainer.train()
    learner = result["learners"]["default_policy"]
    for key in ("vf_loss", "policy_loss", "td_ind", "gap_ind", "gap_pool"):
        assert np.isfinite(learner[key]), key
    assert learner["w_ind"] + learner["w_pool"] == pytest.approx(1.0)
    checkpoint = trainer.save_to_path(str(tmp_path / "central_v_sac"))
    trainer.stop()
    larger = {**env_config, "n_agents": env_config["n_max"]}
    played = evaluate(checkpoint, larger, episodes=1, seed=0)
    assert played["n_agents"] == env_config["n_max"] and np.isfinite(played["return_mean"])
    assert len(played["q_bias_ind"]) == 1 and np.isfinite(played["q_bias_mean"])


def test_discrete_soft_actor_critic_loss_matches_a_hand_computed_batch():
    # Two transitions, two agent slots, two actions, alpha 0.5, gamma 0.5. Transition 0: both agents act, agent 1 has
    # left by s' (one step); transition 1: agent 1 absent throughout, terminated. The target critics at s' give
    # Q'_1 = [1, 3] and Q'_2 = [2, 2] to every agent whatever the others' sampled next actions; the policies are
    # uniform at s and s'. The online critics at the replayed joint action: Q_1(s, (u^-a, .)), Q_2 = Q_1 + 1.
    q1_all = torch.tensor([[[1.0, 2.0], [3.0, 5.0]], [[0.0, 4.0], [9.0, 9.0]]])  # [B, n, A]
    log_alpha = torch.tensor(math.log(0.5), requires_grad=True)
    module = SimpleNamespace(
        discrete=True,
        n_actions=2,
        log_alpha=log_alpha,
        logits=lambda obs: torch.zeros(2, 2, 2),
        twin_q=lambda obs, actions, target=False: (
            (torch.tensor([1.0, 3.0]).expand(2, 2, 2), torch.tensor([2.0, 2.0]).expand(2, 2, 2))
            if target
            else (q1_all, q1_all + 1.0)
        ),
    )
    logged = []
    learner = SimpleNamespace(
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        pretrained_kl_penalty=lambda *args: 0.0,
        log_step_metrics=lambda module_id, metrics: logged.append(metrics),
        _soft_next_values=CentralVSACLearner._soft_next_values,
        _discrete_actor_loss=CentralVSACLearner._discrete_actor_loss,
    )
    config = SimpleNamespace(gamma=0.5, unmix=None, target_entropy_scale=0.5)
    batch = {
        Columns.OBS: {"mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]])},
        Columns.NEXT_OBS: {"mask": torch.tensor([[1.0, 0.0], [1.0, 0.0]])},
        Columns.ACTIONS: torch.tensor([[1, 0], [0, 0]]),
        Columns.REWARDS: torch.tensor([1.0, -1.0]),
        Columns.TERMINATEDS: torch.tensor([0.0, 1.0]),
        "n_step": torch.tensor([1, 1]),
    }
    logits = torch.zeros(2, 2, 2, requires_grad=True)
    total = CentralVSACLearner.compute_loss_for_module(
        learner, module_id="m", config=config, batch=batch, fwd_out={"logits": logits}
    )
    # soft next value of a present agent: mean(min(1, 2), min(3, 2)) + 0.5 log 2 = 1.5 + 0.5 log 2; targets
    # (1 + 0.5 * that, 1 + 0 (agent 1 left)) and (-1, terminated). Taken Q_1: 2, 3 and 0; Q_2 one more.
    log2 = math.log(2.0)
    target_0 = 1.0 + 0.5 * (1.5 + 0.5 * log2)
    targets, q_taken = torch.tensor([target_0, 1.0, -1.0]), torch.tensor([2.0, 3.0, 0.0])
    critic = float(((q_taken - targets) ** 2).mean() + ((q_taken + 1.0 - targets) ** 2).mean())
    # actor: sum_u pi (alpha log pi - min(Q_1, Q_2)) = -0.5 log 2 - mean over u of Q_1, over present agents
    actor = -0.5 * log2 - (1.5 + 4.0 + 2.0) / 3
    # temperature: alpha (H - 0.5 log 2), H = log 2
    temperature = 0.5 * (log2 - 0.5 * log2)
    assert total.item() == pytest.approx(critic + actor + temperature, rel=1e-6)
    assert logged[0]["vf_loss"].item() == pytest.approx(critic, rel=1e-6)
    assert logged[0]["q_taken_mean"].item() == pytest.approx(5.0 / 3)
    total.backward()
    assert log_alpha.grad.item() == pytest.approx(temperature, rel=1e-6), "d/dlog_alpha of alpha (H - H_target)"
    assert logits.grad[1, 1].abs().sum() == 0, "an absent agent's policy gets no gradient"
    # the actor moves toward the better action: Q_1 favours action 1 for agent 0 of transition 0
    assert logits.grad[0, 0, 1] < 0 < logits.grad[0, 0, 0]
