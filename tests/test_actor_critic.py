"""Actor-critic networks and a short RLlib run per actor-critic algorithm."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import Columns

import rl_algos
from policies.actor_critic_module import TeamActorCriticModule
from policies.networks.team_critics import CounterfactualCritic, TeamValueCritic
from rl_algos.common import evaluate, random_policy_returns
from rl_algos.common.training import budget_config, train_and_evaluate

N_MAX, OBS_DIM, N_ACTIONS = 5, 4, 3


def _module(critic: str, team_embedding: str = "mean") -> TeamActorCriticModule:
    spaces = gym.spaces.Dict(
        obs=gym.spaces.Box(-np.inf, np.inf, (N_MAX, OBS_DIM), np.float32),
        mask=gym.spaces.Box(0, 1, (N_MAX,), np.float32),
        state=gym.spaces.Box(-np.inf, np.inf, (N_MAX * OBS_DIM,), np.float32),
    )
    return TeamActorCriticModule(
        observation_space=spaces,
        action_space=gym.spaces.MultiDiscrete([N_ACTIONS] * N_MAX),
        model_config={
            **rl_algos.get_config("central_v").model_config,
            "critic": critic,
            "team_embedding": team_embedding,
        },
    )


def _obs(batch: int, n_present: int) -> dict:
    mask = torch.zeros(batch, N_MAX)
    mask[:, :n_present] = 1.0
    return {"obs": torch.randn(batch, N_MAX, OBS_DIM) * mask.unsqueeze(-1), "mask": mask}


def test_absent_agents_always_take_action_0_and_add_nothing_to_the_joint_log_prob():
    torch.manual_seed(0)
    module = _module("team")
    obs = _obs(64, n_present=2)
    inputs = module.forward_exploration({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    assert inputs.shape == (64, N_MAX * N_ACTIONS)
    dist = module.get_exploration_action_dist_cls().from_logits(inputs)
    actions = dist.sample()
    assert actions.shape == (64, N_MAX)
    assert torch.equal(actions[:, 2:], torch.zeros(64, 3, dtype=actions.dtype)), "padded agents never act"
    assert len(actions[:, :2].unique()) > 1, "present agents sample from their policy"
    per_agent = torch.log_softmax(inputs.view(64, N_MAX, N_ACTIONS), -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(dist.logp(actions), per_agent[:, :2].sum(-1), atol=1e-5)
    greedy = module.get_inference_action_dist_cls().from_logits(inputs).to_deterministic().sample()
    assert torch.equal(greedy[:, 2:], torch.zeros_like(greedy[:, 2:]))


@pytest.mark.parametrize("embedding", ["mean", "graph"])
def test_pooled_team_critic_is_invariant_to_permuting_present_agents(embedding):
    torch.manual_seed(0)
    critic = TeamValueCritic(OBS_DIM, N_MAX, embedding, hidden=(16,))
    obs = _obs(8, n_present=4)
    permutation = torch.tensor([2, 0, 3, 1, 4])
    values = critic(obs["obs"], obs["mask"])
    permuted = critic(obs["obs"][:, permutation], obs["mask"][:, permutation])
    assert values.shape == (8,)
    assert torch.allclose(values, permuted, atol=1e-5)
    bigger = _obs(8, n_present=5)
    assert torch.isfinite(critic(bigger["obs"], bigger["mask"])).all(), "defined for any team size up to n_max"


def test_concat_team_critic_sees_slots_in_order():
    torch.manual_seed(0)
    critic = TeamValueCritic(OBS_DIM, N_MAX, "concat", hidden=(16,))
    obs = _obs(8, n_present=4)
    permutation = torch.tensor([2, 0, 3, 1, 4])
    assert not torch.allclose(critic(obs["obs"], obs["mask"]), critic(obs["obs"][:, permutation], obs["mask"]))


def _onehot(actions: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(actions, N_ACTIONS).float()


@pytest.mark.parametrize("embedding", ["concat", "mean", "graph"])
def test_counterfactual_critic_ignores_the_agent_s_own_action_and_absent_agents(embedding):
    torch.manual_seed(0)
    critic = CounterfactualCritic(OBS_DIM, N_ACTIONS, N_MAX, embedding, hidden=(16,))
    obs = _obs(4, n_present=3)
    actions = torch.randint(0, N_ACTIONS, (4, N_MAX))
    q = critic(obs["obs"], _onehot(actions), obs["mask"])
    assert q.shape == (4, N_MAX, N_ACTIONS)

    own_changed = actions.clone()
    own_changed[:, 0] = (actions[:, 0] + 1) % N_ACTIONS
    q_own = critic(obs["obs"], _onehot(own_changed), obs["mask"])
    assert torch.allclose(q_own[:, 0], q[:, 0], atol=1e-6), "Q(s, (u^-a, .)) does not see u_a"
    assert not torch.allclose(q_own[:, 1], q[:, 1]), "it does see the other agents' actions"

    padded_changed = actions.clone()
    padded_changed[:, 3:] = (actions[:, 3:] + 1) % N_ACTIONS
    noisy_obs = obs["obs"].clone()
    noisy_obs[:, 3:] = torch.randn(4, 2, OBS_DIM)
    q_padded = critic(noisy_obs, _onehot(padded_changed), obs["mask"])
    assert torch.allclose(q_padded[:, :3], q[:, :3], atol=1e-5), "absent agents give no credit"


@pytest.mark.parametrize("embedding", ["concat", "mean", "graph"])
def test_counterfactual_critic_values_a_team_the_same_whatever_the_batch_s_widest_team(embedding):
    # only the slots some team of the batch fills get team views; the others' values are 0
    torch.manual_seed(0)
    critic = CounterfactualCritic(OBS_DIM, N_ACTIONS, N_MAX, embedding, hidden=(16,))
    narrow, wide = _obs(3, n_present=2), _obs(1, n_present=N_MAX)
    actions = _onehot(torch.randint(0, N_ACTIONS, (4, N_MAX)))
    q_alone = critic(narrow["obs"], actions[:3], narrow["mask"])
    q_together = critic(torch.cat([narrow["obs"], wide["obs"]]), actions, torch.cat([narrow["mask"], wide["mask"]]))
    assert q_alone.shape == (3, N_MAX, N_ACTIONS) and torch.equal(q_alone[:, 2:], torch.zeros(3, N_MAX - 2, N_ACTIONS))
    torch.testing.assert_close(q_together[:3, :2], q_alone[:, :2])
    assert q_together[3].abs().min() > 0  # the full team's last slot is valued


@pytest.mark.parametrize("embedding", ["mean", "graph"])
def test_pooled_counterfactual_critic_is_permutation_equivariant_over_present_agents(embedding):
    torch.manual_seed(0)
    critic = CounterfactualCritic(OBS_DIM, N_ACTIONS, N_MAX, embedding, hidden=(16,), obs_agent_id=False)
    obs = _obs(4, n_present=4)
    actions = _onehot(torch.randint(0, N_ACTIONS, (4, N_MAX)))
    permutation = torch.tensor([2, 0, 3, 1, 4])
    q = critic(obs["obs"], actions, obs["mask"])
    q_permuted = critic(obs["obs"][:, permutation], actions[:, permutation], obs["mask"][:, permutation])
    assert torch.allclose(q_permuted, q[:, permutation], atol=1e-5)


def test_per_agent_critic_values_absent_agents_at_zero():
    module = _module("agent")
    values = module.values(_obs(6, n_present=3))
    assert values.shape == (6, N_MAX) and torch.equal(values[:, 3:], torch.zeros(6, 2))


@pytest.mark.parametrize(
    "algo, options",
    [
        ("iac", {}),
        ("iac", {"shared_experience": 1.0}),
        ("iac_awac", {"learning_starts": 50}),
        ("central_v", {}),
        ("central_v_sac", {"learning_starts": 50}),
        ("coma", {}),
        ("lica", {}),
    ],
    ids=["iac", "iac-seac", "iac_awac", "central_v", "central_v_sac", "coma", "lica"],
)
def test_actor_critic_trains_checkpoints_and_evaluates_at_a_larger_team(algo, options, ray_session, tmp_path):
    env_config = {"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10}
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(team_embedding="graph", train_batch_size_per_learner=100, **options)
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    trainer = config.build_algo()
    module = trainer.learner_group._learner.module["default_policy"]
    before = {name: [p.detach().clone() for p in getattr(module, name).parameters()] for name in ("actor", "critic")}
    losses = []
    for _ in range(3):
        result = trainer.train()
        losses.append(result["learners"]["default_policy"]["total_loss"])
    assert np.isfinite(losses).all()
    assert result["num_env_steps_sampled_lifetime"] >= 300
    for name, old in before.items():
        new = getattr(module, name).parameters()
        assert any(not torch.equal(a, b) for a, b in zip(old, new, strict=True)), f"the {name} did not train"
    checkpoint = trainer.save_to_path(str(tmp_path / algo))
    trainer.stop()
    played = evaluate(checkpoint, {**env_config, "n_agents": 4}, episodes=2, seed=0)
    assert played["n_agents"] == 4 and played["episode_len_mean"] == 10.0 and np.isfinite(played["return_mean"])
    # the lower-bound check reads a Q of the actions taken: the replay actor-critics' critics, not the on-policy ones'
    assert ("q_bias" in played) == (algo == "central_v_sac")


def test_each_agent_in_every_agent_s_place_gives_its_own_outputs_on_the_diagonal():
    torch.manual_seed(0)
    module = _module("agent")
    obs = _obs(6, n_present=3)
    obs_as, ids = module.as_each_agent(obs)
    logits_as, values_as = module.logits(obs_as, ids), module.values(obs_as, ids)  # [B, a, b, A], [B, a, b]
    assert logits_as.shape == (6, N_MAX, N_MAX, N_ACTIONS) and values_as.shape == (6, N_MAX, N_MAX)
    slots = torch.arange(N_MAX)
    assert torch.allclose(logits_as[:, slots, slots], module.logits(obs), atol=1e-6)
    assert torch.allclose(values_as[:, slots, slots], module.values(obs), atol=1e-6)
    assert not torch.allclose(logits_as[:, 0, 1], logits_as[:, 1, 1]), "agent 0's id changes the policy on o_1"
    assert torch.equal(values_as[:, :, 3:], torch.zeros(6, N_MAX, 2)), "absent agents' experience is worth 0"


def test_shared_experience_is_for_per_agent_critics_only():
    for algo in ("central_v", "coma"):
        with pytest.raises(ValueError, match="shared_experience \\(SEAC\\) .* Use iac"):
            rl_algos.get_config(algo).training(shared_experience=1.0).validate()
    with pytest.raises(ValueError, match="shared_experience .* must be >= 0"):
        rl_algos.get_config("iac").training(shared_experience=-1.0).validate()


def test_coma_rejects_continuous_actions_and_the_a2c_learners_take_them():
    multiwalker = {"scenario": "multiwalker", "n_agents": 2}
    with pytest.raises(
        ValueError,
        match="COMA needs discrete actions.*"
        "or central_v, central_v_sac, iac, ippo, maddpg, mappo for continuous actions",
    ):
        rl_algos.get_config("coma").environment("team", env_config=multiwalker).validate()
    for algo in ("iac", "central_v"):
        rl_algos.get_config(algo).environment("team", env_config=multiwalker).validate()
    for algo, ppo in (("central_v", "mappo"), ("iac", "ippo")):
        with pytest.raises(
            ValueError, match=f"ppo base is now its own algorithm: use rl_algos.get_config\\('{ppo}'\\)"
        ):
            rl_algos.get_config(algo).training(base="ppo").validate()
    with pytest.raises(ValueError, match="base='trpo' is unknown; CentralV trains on-policy with A2C"):
        rl_algos.get_config("central_v").training(base="trpo").validate()
    with pytest.raises(
        ValueError, match="sac base is now its own algorithm: use rl_algos.get_config\\('central_v_sac'\\)"
    ):
        rl_algos.get_config("central_v").training(base="sac").validate()
    with pytest.raises(ValueError, match="target_entropy_scale must be in"):
        rl_algos.get_config("central_v_sac").training(target_entropy_scale=1.5).validate()


@pytest.mark.slow
def test_central_v_graph_beats_a_random_team_on_spread(ray_session):
    env_config = {"scenario": "spread", "n_agents": 3, "n_max": 3}
    random_returns = random_policy_returns(env_config, episodes=50, seed=0)
    config = budget_config("central_v", env_config, steps=50_000, seed=0, team_embedding="graph")
    trained = train_and_evaluate(config, 50_000, [env_config], episodes=20, seed=10_000).evaluations[0]
    assert trained["return_mean"] > np.mean(random_returns) + 10


@pytest.mark.parametrize("algo", ["qmix", "central_v_sac", "maddpg"])
def test_a_replay_smaller_than_two_batches_is_refused(algo):
    config = (
        rl_algos.get_config(algo)
        .environment("team", env_config={"scenario": "spread", "n_agents": 3})
        .training(replay_capacity=100)
    )
    with pytest.raises(ValueError, match="replay_capacity=100 is below twice the batch"):
        config.validate()
