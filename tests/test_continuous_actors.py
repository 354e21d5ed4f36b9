"""Continuous actions: the squashed-Gaussian team actor, Central-V SAC on Box actions, and actor losses that reach
the actor through a frozen critic (Central-V SAC, MADDPG)."""

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from policies.maddpg_module import TeamMADDPGModule
from policies.networks.team_critics import JointActionCritic
from policies.sac_module import TeamSACModule
from policies.team_actor import TeamActor
from rl_algos.central_v_sac.learner import CentralVSACLearner
from rl_algos.common import evaluate
from rl_algos.common.learners.utils import frozen
from rl_algos.maddpg.learner import TeamMADDPGLearner

N_MAX, OBS_DIM, ACTION_DIM = 4, 3, 2
BOX = gym.spaces.Box(-1.0, 1.0, (N_MAX, ACTION_DIM), np.float32)
OBS_SPACE = gym.spaces.Dict(
    obs=gym.spaces.Box(-np.inf, np.inf, (N_MAX, OBS_DIM), np.float32),
    mask=gym.spaces.Box(0, 1, (N_MAX,), np.float32),
    state=gym.spaces.Box(-np.inf, np.inf, (N_MAX * OBS_DIM,), np.float32),
)
SAC_CONFIG = rl_algos.get_config("central_v_sac").model_config  # the modules' options, with the configs' defaults
MADDPG_CONFIG = rl_algos.get_config("maddpg").model_config


def _obs(batch: int, n_present: int) -> dict:
    mask = torch.zeros(batch, N_MAX)
    mask[:, :n_present] = 1.0
    return {"obs": torch.randn(batch, N_MAX, OBS_DIM) * mask.unsqueeze(-1), "mask": mask}


def test_squashed_gaussian_actor_gives_per_agent_actions_and_log_probs_and_idles_absent_agents():
    torch.manual_seed(0)
    module = TeamSACModule(
        observation_space=OBS_SPACE, action_space=BOX, model_config=SAC_CONFIG | {"team_embedding": "mean"}
    )
    obs = _obs(256, n_present=2)
    inputs = module.forward_exploration({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    assert inputs.shape == (256, N_MAX, 2 * ACTION_DIM)
    dist_cls = module.get_exploration_action_dist_cls()
    actions, log_probs = dist_cls.from_logits(inputs).sample_and_logp()
    assert actions.shape == (256, N_MAX, ACTION_DIM) and log_probs.shape == (256, N_MAX), "one log-prob per agent"
    assert actions.abs().max() <= 1.0
    assert actions[:, :2].std() > 0.3, "present agents explore"
    assert actions[:, 2:].abs().max() < 0.05, "padded agents stay at ~0"
    loc, log_std = inputs[:2, :2].chunk(2, dim=-1)
    normal = torch.distributions.Normal(loc, log_std.clamp(-5, 2).exp())
    by_hand = (normal.log_prob(torch.atanh(actions[:2, :2])) - torch.log1p(-(actions[:2, :2] ** 2))).sum(-1)
    assert torch.allclose(log_probs[:2, :2], by_hand, atol=1e-3)
    greedy = module.get_inference_action_dist_cls().from_logits(inputs).to_deterministic().sample()
    assert torch.allclose(greedy, torch.tanh(inputs[..., :ACTION_DIM]), atol=1e-6), "greedy action is the squashed mean"


def test_actions_land_on_the_box_s_bounds_and_uneven_bounds_are_refused():
    torch.manual_seed(0)
    unit_box = gym.spaces.Box(0.0, 1.0, (N_MAX, ACTION_DIM), np.float32)  # spread's continuous actions
    obs = _obs(256, n_present=3)
    sac = TeamSACModule(
        observation_space=OBS_SPACE, action_space=unit_box, model_config=SAC_CONFIG | {"team_embedding": "mean"}
    )
    inputs = sac.forward_exploration({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    sampled = sac.get_exploration_action_dist_cls().from_logits(inputs).sample()
    assert 0.0 <= sampled.min() and sampled.max() <= 1.0 and sampled[:, :3].std() > 0.15
    greedy = sac.get_inference_action_dist_cls().from_logits(inputs).to_deterministic().sample()
    assert torch.allclose(greedy, (torch.tanh(inputs[..., :ACTION_DIM]) + 1) / 2, atol=1e-6)
    maddpg = TeamMADDPGModule(
        observation_space=OBS_SPACE, action_space=unit_box, model_config=MADDPG_CONFIG | {"exploration_noise": 5.0}
    )
    explored = maddpg.forward_exploration({Columns.OBS: obs})[Columns.ACTIONS]
    assert 0.0 <= explored.min() and explored.max() <= 1.0 and explored[:, :3].std() > 0.15
    uneven = gym.spaces.Box(np.array([[-1.0, 0.0]] * N_MAX, np.float32), np.array([[1.0, 1.0]] * N_MAX, np.float32))
    with pytest.raises(ValueError, match="need the same finite bounds on every dimension"):
        TeamActor(uneven, OBS_DIM, N_MAX)


def test_own_action_values_replace_only_the_agent_s_own_action():
    torch.manual_seed(0)
    critic = JointActionCritic(OBS_DIM, ACTION_DIM, N_MAX, "graph", hidden=(8,))
    obs = _obs(5, n_present=3)
    replayed, own = torch.randn(5, N_MAX, ACTION_DIM), torch.randn(5, N_MAX, ACTION_DIM)
    values = critic.own_action_values(obs["obs"], replayed, own, obs["mask"])
    assert values.shape == (5, N_MAX)
    for agent in range(3):
        joint = replayed.clone()
        joint[:, agent] = own[:, agent]
        assert torch.allclose(values[:, agent], critic(obs["obs"], joint, obs["mask"])[:, agent], atol=1e-5)
    assert (values[:, 3:] == 0).all(), "slots no team of the batch fills: no critic pass, value 0"
    obs["mask"][0, 3] = 1.0  # one team with an agent in the last slot: every slot is computed for every row
    values = critic.own_action_values(obs["obs"], replayed, own, obs["mask"])
    joint = replayed.clone()
    joint[:, 3] = own[:, 3]
    assert torch.allclose(values[:, 3], critic(obs["obs"], joint, obs["mask"])[:, 3], atol=1e-5)


def test_frozen_keeps_an_actor_loss_out_of_the_critic_s_gradients():
    torch.manual_seed(0)
    actor, critic = torch.nn.Linear(3, 2), torch.nn.Linear(2, 1)
    x, target = torch.randn(8, 3), torch.randn(8, 1)
    critic_loss = ((critic(torch.randn(8, 2)) - target) ** 2).mean()
    critic_grads = torch.autograd.grad(critic_loss, list(critic.parameters()), retain_graph=True)
    with frozen(critic):
        actor_loss = -critic(actor(x)).mean()
    (critic_loss + actor_loss).backward()
    for param, alone in zip(critic.parameters(), critic_grads, strict=True):
        assert torch.allclose(param.grad, alone)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())
    assert all(p.requires_grad for p in critic.parameters()), "the critic is trainable again after the block"


def _replayed_batch(n_present: int = 3) -> dict:
    obs = _obs(16, n_present)
    return {Columns.OBS: obs, Columns.ACTIONS: torch.rand(16, N_MAX, ACTION_DIM) * 2 - 1}


@pytest.mark.parametrize("embedding", ["concat", "graph"])
def test_continuous_sac_actor_loss_trains_the_actor_only(embedding):
    torch.manual_seed(0)
    module = TeamSACModule(
        observation_space=OBS_SPACE, action_space=BOX, model_config=SAC_CONFIG | {"team_embedding": embedding}
    )
    batch = _replayed_batch()
    logits = module.forward_train({**batch, Columns.NEXT_OBS: batch[Columns.OBS]})["logits"]
    actor_loss, entropy = CentralVSACLearner._continuous_actor_loss(module, batch, logits, torch.tensor(0.2))
    actor_loss.backward()
    assert all(p.grad is None for p in [*module.critic.parameters(), *module.critic_2.parameters()])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.actor.parameters())
    assert entropy.requires_grad is False and torch.isfinite(entropy)


def test_maddpg_actor_loss_trains_the_actor_only():
    torch.manual_seed(0)
    module = TeamMADDPGModule(
        observation_space=OBS_SPACE, action_space=BOX, model_config=MADDPG_CONFIG | {"team_embedding": "mean"}
    )
    batch = _replayed_batch()
    learner = SimpleNamespace(config=rl_algos.get_config("maddpg"))
    out = module.forward_train(batch)["actor"]
    loss = TeamMADDPGLearner.actor_loss(
        learner, module, batch[Columns.OBS], batch[Columns.ACTIONS], out, batch[Columns.OBS]["mask"]
    )
    loss.backward()
    assert all(p.grad is None for p in [*module.critic.parameters(), *module.critic_2.parameters()])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.actor.parameters())


def test_central_v_and_central_v_sac_take_continuous_actions():
    multiwalker = {"scenario": "multiwalker", "n_agents": 2}
    for algo in ("central_v", "central_v_sac"):
        rl_algos.get_config(algo).environment("team", env_config=multiwalker).validate()


@pytest.mark.parametrize(
    "algo, options",
    [("iac", {}), ("iac", {"shared_experience": 1.0}), ("central_v", {})],
    ids=["iac", "iac-seac", "central_v"],
)
def test_continuous_a2c_trains_checkpoints_and_evaluates_at_a_larger_team(algo, options, ray_session, tmp_path):
    env_config = {"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 20}
    trainer = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(train_batch_size_per_learner=40, team_embedding="graph", **options)
        .reporting(min_sample_timesteps_per_iteration=80)
        .debugging(seed=0)
    )
    trainer = trainer.build_algo()
    actor = trainer.learner_group._learner.module["default_policy"].actor
    before = [p.clone() for p in actor.parameters()]
    for _ in range(2):
        learner = trainer.train()["learners"]["default_policy"]
        assert np.isfinite([learner["total_loss"], learner["policy_loss"], learner["entropy"]]).all()
    assert any(not torch.equal(p, b) for p, b in zip(actor.parameters(), before, strict=True))
    checkpoint = trainer.save_to_path(str(tmp_path / algo))
    trainer.stop()
    played = evaluate(checkpoint, {**env_config, "n_agents": 3}, episodes=2, seed=0)
    assert played["n_agents"] == 3 and np.isfinite(played["return_mean"])


@pytest.mark.parametrize("embedding", ["concat", "graph"])
def test_continuous_central_v_sac_trains_checkpoints_and_evaluates_at_a_larger_team(embedding, ray_session, tmp_path):
    env_config = {"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 20}
    config = (
        rl_algos.get_config("central_v_sac")
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(team_embedding=embedding, learning_starts=50, train_batch_size_per_learner=32)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    alphas = []
    for _ in range(3):
        learner = trainer.train()["learners"]["default_policy"]
        assert np.isfinite([learner["total_loss"], learner["vf_loss"], learner["policy_loss"]]).all()
        alphas.append(learner["alpha"])
    # the initial policy's entropy is far above the target -k, so the temperature falls
    assert alphas[-1] < 0.2
    checkpoint = trainer.save_to_path(str(tmp_path / embedding))
    trainer.stop()
    played = evaluate(checkpoint, {**env_config, "n_agents": 3}, episodes=2, seed=0)
    assert played["n_agents"] == 3 and np.isfinite(played["return_mean"])
