"""IAC on AWAC: the advantage weights, the loss against a hand-computed batch, and the config's checks."""

import math
from types import SimpleNamespace

import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from rl_algos.iac_awac.learner import IACAWACLearner, advantage_weights


def test_advantage_weights_exponentiate_and_clip():
    advantages = torch.tensor([[0.0, math.log(2.0), 10.0, -1.0]])
    assert torch.allclose(advantage_weights(advantages, 1.0, 20.0), torch.tensor([[1.0, 2.0, 20.0, math.exp(-1.0)]]))
    assert advantage_weights(torch.tensor([math.log(2.0)]), 0.5, 20.0).item() == pytest.approx(4.0)
    assert advantage_weights(torch.tensor([1e6]), 1.0, 20.0).item() == pytest.approx(20.0), "no overflow"


def _awac_loss(awac_max_weight: float, terminated: float) -> torch.Tensor:
    """Two agents, two actions; agent 1 leaves before s'. Q(o) = [[1, 3], [2, 0]], uniform policies at o and o',
    Q'(o') = [[4, 0], [10, 10]], actions [1, 0], r = 1, gamma 0.5, one step."""
    q = torch.tensor([[[1.0, 3.0], [2.0, 0.0]]])
    next_q = torch.tensor([[[4.0, 0.0], [10.0, 10.0]]])
    module = SimpleNamespace(
        agent_q=lambda obs, target=False: next_q if target else q,
    )
    config = SimpleNamespace(gamma=0.5, awac_lambda=1.0, awac_max_weight=awac_max_weight)
    learner = SimpleNamespace(
        config=config,
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        pretrained_kl_penalty=lambda *args: 0.0,
        log_step_metrics=lambda *args: None,
    )
    batch = {
        Columns.OBS: {"mask": torch.tensor([[1.0, 1.0]])},
        Columns.NEXT_OBS: {"mask": torch.tensor([[1.0, 0.0]])},
        Columns.ACTIONS: torch.tensor([[1, 0]]),
        Columns.REWARDS: torch.tensor([1.0]),
        Columns.TERMINATEDS: torch.tensor([terminated]),
        "n_step": torch.tensor([1]),
    }
    fwd_out = {"logits": torch.zeros(1, 2, 2, requires_grad=True), "next_logits": torch.zeros(1, 2, 2)}
    return IACAWACLearner.compute_loss_for_module(learner, module_id="m", config=config, batch=batch, fwd_out=fwd_out)


def test_awac_loss_matches_a_hand_computed_batch():
    # critic: targets [1 + 0.5 * mean(4, 0), 1 + 0.5 * 0 (absent at s')] = [2, 1] against Q taken [3, 2]: mean 1.
    # actor: advantages Q taken - E_pi Q = [3 - 2, 2 - 1] = [1, 1], weights e, log pi = log 0.5: e * log 2.
    assert _awac_loss(20.0, terminated=0.0).item() == pytest.approx(1.0 + math.e * math.log(2.0), rel=1e-5)
    # the weights clipped at 2; the episode ended, so the targets are the reward: ((3-1)^2 + (2-1)^2) / 2.
    assert _awac_loss(2.0, terminated=1.0).item() == pytest.approx(2.5 + 2.0 * math.log(2.0), rel=1e-5)


def test_iac_awac_refuses_continuous_actions_and_bad_options_and_iac_points_to_it():
    multiwalker = {"scenario": "multiwalker", "n_agents": 2}
    with pytest.raises(
        ValueError,
        match="IACAWAC needs discrete actions.*"
        "or central_v, central_v_sac, iac, ippo, maddpg, mappo for continuous actions",
    ):
        rl_algos.get_config("iac_awac").environment("team", env_config=multiwalker).validate()
    with pytest.raises(ValueError, match="awac_lambda .* must be positive"):
        rl_algos.get_config("iac_awac").training(awac_lambda=0.0).validate()
    with pytest.raises(ValueError, match=r"awac base is now its own algorithm: use rl_algos.get_config\('iac_awac'\)"):
        rl_algos.get_config("iac").training(base="awac").validate()
