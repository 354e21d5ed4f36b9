"""MADDPG: joint-action critics (unshared with concat, pooled otherwise), the module's actions, short runs."""

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from policies.maddpg_module import TeamMADDPGModule
from policies.networks.team_critics import JointActionCritic
from rl_algos.common import evaluate
from rl_algos.maddpg.learner import TeamMADDPGLearner

N_MAX, OBS_DIM, N_ACTIONS = 4, 3, 5


def _obs(batch: int, n_present: int) -> dict:
    mask = torch.zeros(batch, N_MAX)
    mask[:, :n_present] = 1.0
    return {"obs": torch.randn(batch, N_MAX, OBS_DIM) * mask.unsqueeze(-1), "mask": mask}


def test_concat_critic_keeps_one_unshared_critic_per_agent():
    torch.manual_seed(0)
    critic = JointActionCritic(OBS_DIM, N_ACTIONS, N_MAX, "concat", hidden=(8,))
    assert len(critic.heads) == N_MAX
    obs, actions = _obs(6, 4), torch.randn(6, N_MAX, N_ACTIONS)
    before = critic(obs["obs"], actions, obs["mask"])
    with torch.no_grad():
        for p in critic.heads[1].parameters():
            p.add_(1.0)
    after = critic(obs["obs"], actions, obs["mask"])
    assert before.shape == (6, N_MAX)
    assert torch.allclose(before[:, [0, 2, 3]], after[:, [0, 2, 3]]) and not torch.allclose(before[:, 1], after[:, 1])


@pytest.mark.parametrize("embedding", ["mean", "graph"])
def test_pooled_critic_is_shared_and_permutation_equivariant_over_present_agents(embedding):
    torch.manual_seed(0)
    critic = JointActionCritic(OBS_DIM, N_ACTIONS, N_MAX, embedding, hidden=(8,), obs_agent_id=False)
    obs, actions = _obs(6, 3), torch.randn(6, N_MAX, N_ACTIONS)
    permutation = torch.tensor([2, 0, 1, 3])
    q = critic(obs["obs"], actions, obs["mask"])
    q_permuted = critic(obs["obs"][:, permutation], actions[:, permutation], obs["mask"][:, permutation])
    assert torch.allclose(q_permuted, q[:, permutation], atol=1e-5)
    changed = actions.clone()
    changed[:, 3] += 5.0  # an absent agent's action
    assert torch.allclose(critic(obs["obs"], changed, obs["mask"])[:, :3], q[:, :3], atol=1e-5)


def _spaces(action_space):
    return {
        "observation_space": gym.spaces.Dict(
            obs=gym.spaces.Box(-np.inf, np.inf, (N_MAX, OBS_DIM), np.float32),
            mask=gym.spaces.Box(0, 1, (N_MAX,), np.float32),
            state=gym.spaces.Box(-np.inf, np.inf, (N_MAX * OBS_DIM,), np.float32),
        ),
        "action_space": action_space,
    }


def test_module_actions_leave_absent_agents_idle_and_stay_in_bounds():
    torch.manual_seed(0)
    obs = _obs(32, 2)
    discrete = TeamMADDPGModule(
        **_spaces(gym.spaces.MultiDiscrete([N_ACTIONS] * N_MAX)),
        model_config=rl_algos.get_config("maddpg").model_config,
    )
    inputs = discrete.forward_exploration({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    sampled = discrete.get_exploration_action_dist_cls().from_logits(inputs).sample()
    assert torch.equal(sampled[:, 2:], torch.zeros_like(sampled[:, 2:]))

    box = gym.spaces.Box(-1.0, 1.0, (N_MAX, 2), np.float32)
    continuous = TeamMADDPGModule(
        **_spaces(box), model_config=rl_algos.get_config("maddpg").model_config | {"exploration_noise": 5.0}
    )
    actions = continuous.forward_exploration({Columns.OBS: obs})[Columns.ACTIONS]
    assert actions.shape == (32, N_MAX, 2) and actions.abs().max() <= 1.0
    assert torch.equal(actions[:, 2:], torch.zeros(32, 2, 2))
    greedy = continuous.forward_inference({Columns.OBS: obs})[Columns.ACTIONS]
    assert not torch.allclose(greedy[:, :2], actions[:, :2]), "exploration adds noise to the greedy actions"


@pytest.mark.parametrize(
    "env_config",
    [
        {"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10},
        {"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 20},
    ],
    ids=["spread-discrete", "multiwalker-continuous"],
)
@pytest.mark.parametrize("embedding", ["concat", "graph"])
def test_maddpg_trains_checkpoints_and_evaluates_at_a_larger_team(env_config, embedding, ray_session, tmp_path):
    config = (
        rl_algos.get_config("maddpg")
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2, rollout_fragment_length=20)
        .training(team_embedding=embedding, learning_starts=80, train_ratio=0.1)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    module = trainer.learner_group._learner.module["default_policy"]
    networks = ("actor", "critic", "critic_2")
    before = {name: [p.detach().clone() for p in getattr(module, name).parameters()] for name in networks}
    for _ in range(3):
        result = trainer.train()
    learner = result["learners"]["default_policy"]
    assert np.isfinite(learner["vf_loss"]) and np.isfinite(learner["policy_loss"])
    for name, old in before.items():  # concat: the absent slots' critics get no gradient, the present ones' do
        new = getattr(module, name).parameters()
        assert any(not torch.equal(a, b) for a, b in zip(old, new, strict=True)), f"the {name} did not train"
    checkpoint = trainer.save_to_path(str(tmp_path / "maddpg"))
    trainer.stop()
    larger = {**env_config, "n_agents": env_config["n_max"]}
    played = evaluate(checkpoint, larger, episodes=1, seed=0)
    assert played["n_agents"] == env_config["n_max"] and np.isfinite(played["return_mean"])
    assert np.isfinite(played["q_bias_mean"]) and "q_bias_ind" not in played, "no independent critic without unmix"


def _unmixed_critic_loss(unmix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy unmixing's critic loss on a stand-in module: two agents with one continuous action dimension, agent 1
    absent at s'; `Q_ind(o_a, u_a) = u_a` (+10 for the target copy), the pooled critic's `Q_a(o, u) = 2 u_a`,
    replayed actions [1, 2], the actor's [3, 1], target actions [0.5, 0.5], r = 1, gamma 0.5, one step."""
    module = SimpleNamespace(
        discrete=False,
        independent_q=lambda obs, actions, target=False: actions.sum(-1) + (10.0 if target else 0.0),
        critic=lambda obs, actions, mask: 2 * actions.sum(-1),
        log_lambdas=torch.zeros(2, requires_grad=True),
    )
    config = SimpleNamespace(gamma=0.5, unmix=unmix, cql_alpha=1.0, unmix_eps=1e-3, target_gap=1.0)
    batch = {
        Columns.OBS: {"obs": torch.zeros(1, 2, 1), "mask": torch.tensor([[1.0, 1.0]])},
        Columns.NEXT_OBS: {"obs": torch.zeros(1, 2, 1), "mask": torch.tensor([[1.0, 0.0]])},
        Columns.REWARDS: torch.tensor([1.0]),
        Columns.TERMINATEDS: torch.tensor([0.0]),
        "n_step": torch.tensor([1]),
    }
    replayed, next_actions, actor_out = (torch.tensor([[[a], [b]]]) for a, b in ((1.0, 2.0), (0.5, 0.5), (3.0, 1.0)))
    return TeamMADDPGLearner.unmixed_critic_loss(
        SimpleNamespace(config=config),
        module,
        batch,
        replayed,
        next_actions,
        pooled_td=torch.tensor(2.0),
        q1=torch.tensor([[4.0, 4.0]]),
        actor_out=actor_out,
        metrics={},
    )


def test_unmixed_critic_loss_matches_a_hand_computed_batch():
    # TD_ind: targets [1 + 0.5 * 10.5, 1 + 0 (absent at s')] = [6.25, 1] against Q_ind [1, 2]: (5.25^2 + 1) / 2;
    # gap_ind = mean(3 - 1, 1 - 2) = 0.5; gap_pool = mean(2 * 3 - 4, 2 * 1 - 4) = 0; TD_pool = 2 (given).
    td_ind, gap_ind, td_pool, gap_pool = (5.25**2 + 1) / 2, 0.5, 2.0, 0.0
    loss, weights = _unmixed_critic_loss("inverse")
    inverse = torch.tensor([1 / (gap_ind + 1e-3), 1 / (gap_pool + 1e-3)])
    expected = inverse / inverse.sum()
    assert torch.allclose(weights, expected)
    assert loss.item() == pytest.approx(float(expected[0] * (td_ind + gap_ind) + expected[1] * (td_pool + gap_pool)))
    # lagrange, lambdas 1: TD_ind + TD_pool + sum_k (gap_k - 1), plus the multipliers' -sum_k (gap_k - 1)
    loss, weights = _unmixed_critic_loss("lagrange")
    assert torch.allclose(weights, torch.tensor([0.5, 0.5]))
    assert loss.item() == pytest.approx(
        td_ind + td_pool + (gap_ind - 1) + (gap_pool - 1) - (gap_ind - 1) - (gap_pool - 1)
    )


@pytest.mark.parametrize(
    "env_config, unmix, embedding",
    [
        ({"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10}, "inverse", "graph"),
        ({"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 20}, "lagrange", "concat"),
    ],
    ids=["spread-inverse-graph", "multiwalker-lagrange-concat"],
)
def test_maddpg_with_greedy_unmixing_trains_checkpoints_and_evaluates_at_a_larger_team(
    env_config, unmix, embedding, ray_session, tmp_path
):
    config = (
        rl_algos.get_config("maddpg")
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2, rollout_fragment_length=20)
        .training(team_embedding=embedding, learning_starts=80, train_ratio=0.1, unmix=unmix)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    module = trainer.learner_group._learner.module["default_policy"]
    critic_ind = [p.detach().clone() for p in module.critic_ind.parameters()]
    log_lambdas = module.log_lambdas.detach().clone()
    for _ in range(3):
        result = trainer.train()
    learner = result["learners"]["default_policy"]
    for key in ("vf_loss", "policy_loss", "td_ind", "gap_ind", "gap_pool", "lambda_ind"):
        assert np.isfinite(learner[key]), key
    moved = [not torch.equal(a, b) for a, b in zip(critic_ind, module.critic_ind.parameters(), strict=True)]
    assert any(moved), "each agent's own critic trains on its TD loss"
    # the multipliers learn by ascent on their gaps under `lagrange`; the inverse weights need none
    assert torch.equal(module.log_lambdas.detach(), log_lambdas) == (unmix != "lagrange")
    checkpoint = trainer.save_to_path(str(tmp_path / "maddpg"))
    trainer.stop()
    larger = {**env_config, "n_agents": env_config["n_max"]}
    played = evaluate(checkpoint, larger, episodes=1, seed=0)
    assert played["n_agents"] == env_config["n_max"] and np.isfinite(played["return_mean"])
    assert np.isfinite(played["q_bias_mean"]) and np.isfinite(played["q_bias_ind_mean"])
    with pytest.raises(ValueError, match="unmix='mean' is unknown"):
        rl_algos.get_config("maddpg").training(unmix="mean").validate()


class _LinearOwnActionCritic(torch.nn.Module):
    """A stand-in joint-action critic whose value of agent a's own action u_a is w * u_a."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(2.0))

    def own_action_values(self, obs, replayed, own, mask):
        return self.w * own.squeeze(-1)


def test_maddpg_loss_matches_a_hand_computed_batch():
    # One transition, two agents with one continuous action each; agent 1 has left by the next step.
    critic = _LinearOwnActionCritic()
    q1, q2 = torch.tensor([[2.0, 0.0]], requires_grad=True), torch.tensor([[3.0, 1.0]], requires_grad=True)

    def twin_q(obs, actions, target=False):
        if target:  # Q'_1 = 10 u', Q'_2 = 12 u' at the target actor's (clipped) actions
            return 10 * actions.squeeze(-1), 12 * actions.squeeze(-1)
        return q1, q2

    module = SimpleNamespace(
        discrete=False,
        low=torch.tensor([-1.0]),
        high=torch.tensor([1.0]),
        critic=critic,
        action_vectors=lambda actions: actions,
        actor_output=lambda obs, target=False: torch.tensor([[[0.5], [1.5]]]),
        twin_q=twin_q,
    )
    learner = SimpleNamespace(
        config=SimpleNamespace(
            target_noise=0.0, target_noise_clip=0.5, gumbel_temperature=1.0, actor_others="replayed"
        ),
        module={"m": SimpleNamespace(unwrapped=lambda: module)},
        num_gradient_steps=0,
        pretrained_kl_penalty=lambda *args: 0.0,
        log_step_metrics=lambda *args: None,
    )
    learner._target_action_vectors = lambda m, next_obs: TeamMADDPGLearner._target_action_vectors(learner, m, next_obs)
    learner.actor_loss = lambda *args: TeamMADDPGLearner.actor_loss(learner, *args)
    batch = {
        Columns.OBS: {"obs": torch.zeros(1, 2, 1), "mask": torch.ones(1, 2)},
        Columns.NEXT_OBS: {"obs": torch.zeros(1, 2, 1), "mask": torch.tensor([[1.0, 0.0]])},
        Columns.ACTIONS: torch.tensor([[[0.2], [-0.4]]]),
        Columns.REWARDS: torch.tensor([1.0]),
        Columns.TERMINATEDS: torch.tensor([0.0]),
        "n_step": torch.tensor([1]),
    }
    actor_out = torch.tensor([[[0.3], [0.6]]], requires_grad=True)
    config = SimpleNamespace(gamma=0.5, policy_delay=1, unmix=None)
    total = TeamMADDPGLearner.compute_loss_for_module(
        learner, module_id="m", config=config, batch=batch, fwd_out={"actor": actor_out}
    )
    # Target actions clip(0.5, 1.5) = (0.5, 1.0); min(Q'_1, Q'_2) = (5, 10). Targets: 1 + 0.5 * 5 = 3.5 for agent 0,
    # the reward alone, 1, for agent 1 (left). Critics: ((2 - 3.5)^2 + (0 - 1)^2) / 2 + ((3 - 3.5)^2 + 0) / 2 = 1.75.
    # Actor: -mean_a w * mu(o_a) = -(0.6 + 1.2) / 2 = -0.9.
    assert total.item() == pytest.approx(1.75 - 0.9, rel=1e-6)
    total.backward()
    assert actor_out.grad.flatten().tolist() == pytest.approx([-1.0, -1.0])
    assert critic.w.grad is None, "the actor's loss does not train the critic"
    assert q1.grad.flatten().tolist() == pytest.approx([2 - 3.5, 0 - 1])


class _OthersAwareCritic(torch.nn.Module):
    """A stand-in joint-action critic: agent a's value is `w * u_a + sum_{b != a} u_b` (one action dimension)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(2.0))

    def own_action_values(self, obs, others, own, mask):
        others = others.squeeze(-1)  # [B, n]
        return self.w * own.squeeze(-1) + others.sum(-1, keepdim=True) - others


@pytest.mark.parametrize(
    "actor_others, expected_loss",
    # replayed u = (0.2, -0.4): agent 0: 2 * 0.3 - 0.4 = 0.2, agent 1: 2 * 0.6 + 0.2 = 1.4 -> -(0.2 + 1.4) / 2;
    # the policy's own mu = (0.3, 0.6): agent 0: 0.6 + 0.6 = 1.2, agent 1: 1.2 + 0.3 = 1.5 -> -(1.2 + 1.5) / 2
    [("replayed", -0.8), ("policy", -1.35)],
)
def test_the_actor_sees_the_others_replayed_or_current_actions_without_their_gradient(actor_others, expected_loss):
    module = SimpleNamespace(discrete=False, critic=_OthersAwareCritic())
    learner = SimpleNamespace(config=SimpleNamespace(actor_others=actor_others))
    obs = {"obs": torch.zeros(1, 2, 1), "mask": torch.ones(1, 2)}
    actor_out = torch.tensor([[[0.3], [0.6]]], requires_grad=True)
    replayed = torch.tensor([[[0.2], [-0.4]]])
    loss = TeamMADDPGLearner.actor_loss(learner, module, obs, replayed, actor_out, obs["mask"])
    assert loss.item() == pytest.approx(expected_loss)
    loss.backward()
    # only through each agent's own action: d(-mean_a w mu_a)/d mu_a = -w / 2; the others' actions carry none
    assert actor_out.grad.flatten().tolist() == pytest.approx([-1.0, -1.0])


def test_maddpg_rejects_an_unknown_actor_others():
    with pytest.raises(ValueError, match="actor_others='joint' is unknown"):
        rl_algos.get_config("maddpg").training(actor_others="joint").validate()
