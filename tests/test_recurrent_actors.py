"""Recurrent (GRU) actors for the on-policy actor-critics (IAC, Central-V, IPPO, MAPPO, COMA, LICA): the module's
sequence path, the unpadded batch the losses see, the learner against the env runner's own log-probabilities, PPO's
shuffled minibatches of whole sequences, and short runs."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core import DEFAULT_MODULE_ID, Columns
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.policy.sample_batch import SampleBatch

import rl_algos
from policies.actor_critic_module import TeamActorCriticModule
from policies.sequences import padded_like, unpadded_steps
from rl_algos.common import evaluate
from rl_algos.mappo.learner import OLD_LOG_PROBS, OLD_VALUES

N_MAX, OBS_DIM, N_ACTIONS, HIDDEN = 4, 3, 3, 8


def _recurrent_module(critic: str) -> TeamActorCriticModule:
    spaces = gym.spaces.Dict(
        obs=gym.spaces.Box(-np.inf, np.inf, (N_MAX, OBS_DIM), np.float32),
        mask=gym.spaces.Box(0, 1, (N_MAX,), np.float32),
        state=gym.spaces.Box(-np.inf, np.inf, (N_MAX * OBS_DIM,), np.float32),
    )
    algo = {"team": "central_v", "coma": "coma"}[critic]
    config = rl_algos.get_config(algo).training(recurrent=True, max_seq_len=4, hidden=(16, HIDDEN))
    return TeamActorCriticModule(
        observation_space=spaces,
        action_space=gym.spaces.MultiDiscrete([N_ACTIONS] * N_MAX),
        model_config={**config.model_config, "team_embedding": "mean"},
    )


def _observations(steps: int, n_present: int) -> dict:
    mask = torch.zeros(steps, N_MAX)
    mask[:, :n_present] = 1.0
    return {"obs": torch.randn(steps, N_MAX, OBS_DIM) * mask.unsqueeze(-1), "mask": mask}


def test_unpadded_steps_keep_the_data_steps_in_sampling_order_and_drop_the_sequence_columns():
    # two sequences of T = 3: an episode chunk of 3 steps, then one of 2 (padded with one step)
    rewards = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]])
    batch = {
        Columns.REWARDS: rewards,
        Columns.OBS: {"obs": rewards.unsqueeze(-1).expand(2, 3, 2), "mask": torch.ones(2, 3)},
        Columns.LOSS_MASK: torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
        Columns.STATE_IN: {"h": torch.zeros(2, 5)},
        Columns.SEQ_LENS: torch.tensor([3, 2]),
    }
    steps = unpadded_steps(batch)
    assert set(steps) == {Columns.REWARDS, Columns.OBS}
    assert torch.equal(steps[Columns.REWARDS], torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert torch.equal(steps[Columns.OBS]["obs"][:, 0], torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    flat = {Columns.REWARDS: torch.tensor([1.0, 2.0])}
    assert unpadded_steps(flat) is flat, "a stateless module's batch passes through"
    per_agent = torch.arange(10.0).reshape(5, 2)  # a new per-step column [N, n]
    padded = padded_like(batch, per_agent)
    assert padded.shape == (2, 3, 2) and torch.equal(padded[1, 2], torch.zeros(2)), "zeros at the padding"
    assert torch.equal(unpadded_steps({**batch, "new": padded})["new"], per_agent), "the inverse of unpadded_steps"
    assert padded_like(flat, per_agent) is per_agent


@pytest.mark.parametrize("critic", ["team", "coma"])
def test_training_pass_over_padded_sequences_equals_acting_step_by_step(critic):
    torch.manual_seed(0)
    module = _recurrent_module(critic)
    assert module.is_stateful() and module.get_initial_state()["h"].shape == (N_MAX, HIDDEN)
    # one episode of 6 steps (3 agents present) acted step by step from the initial state, as an env runner does
    steps, present = 6, 3
    obs = _observations(steps + 1, present)
    h = module.get_initial_state()["h"].unsqueeze(0)  # [1, n, H]
    acted = []
    for t in range(steps):
        out = module.forward_exploration(
            {Columns.OBS: {k: v[t : t + 1].unsqueeze(1) for k, v in obs.items()}, Columns.STATE_IN: {"h": h}}
        )
        acted.append(out[Columns.ACTION_DIST_INPUTS].reshape(N_MAX, N_ACTIONS))
        h = out[Columns.STATE_OUT]["h"]
    acted = torch.stack(acted)  # [6, n, A]
    # RLlib's learner connectors cut it into sequences of max_seq_len = 4: steps 0-3, then 4-5 and two padded steps
    padded_index = torch.tensor([[0, 1, 2, 3], [4, 5, 0, 0]])
    data = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0]])

    def padded(x: torch.Tensor) -> torch.Tensor:
        return x[padded_index] * data.reshape(2, 4, *[1] * (x.dim() - 1))

    with torch.no_grad():
        _, hiddens = module.actor.unroll({k: v[:4].unsqueeze(0) for k, v in obs.items()}, torch.zeros(1, N_MAX, HIDDEN))
        batch = {
            Columns.OBS: {k: padded(v[:steps]) for k, v in obs.items()},
            Columns.NEXT_OBS: {k: padded(v[1:]) for k, v in obs.items()},
            Columns.LOSS_MASK: data,
            Columns.STATE_IN: {"h": torch.stack([torch.zeros(N_MAX, HIDDEN), hiddens[0, 3]])},
        }
        out = module.forward_train(batch)
    torch.testing.assert_close(out["logits"], acted)
    assert (out["logits"][:, present:].argmax(-1) == 0).all(), "absent agents stay on action 0"
    if critic == "coma":  # the next observation's logits, from the state after each step: the next step's own
        torch.testing.assert_close(out["next_logits"][:-1], acted[1:])
    else:
        assert out["values"].shape == (steps,) and out["next_values"].shape == (steps,)


def test_recurrent_options_are_validated():
    with pytest.raises(ValueError, match="shared_experience \\(SEAC\\) .* recurrent actor cannot"):
        rl_algos.get_config("iac").training(recurrent=True, shared_experience=1.0).validate()
    with pytest.raises(ValueError, match="max_seq_len must be an int >= 1, got 0"):
        rl_algos.get_config("coma").training(recurrent=True, max_seq_len=0).validate()
    for algo, name in [("iac_awac", "IACAWAC"), ("central_v_sac", "CentralVSAC"), ("maddpg", "MADDPG")]:
        with pytest.raises(
            ValueError,
            match=f"{name} has no option 'recurrent': it does not take recurrent agents; the algorithms "
            "that do: central_v, coma, iac, ippo, iql, lica, mappo, qmix, vdn",
        ):
            rl_algos.get_config(algo).training(recurrent=True).validate()
    with pytest.raises(ValueError, match="finetune_kl is not available for recurrent agents"):
        rl_algos.get_config("central_v").training(recurrent=True, finetune_kl=1.0).validate()


def _recurrent_config(algo: str, env_config: dict, **training):
    return (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=2)
        .training(recurrent=True, max_seq_len=7, hidden=(32,), train_batch_size_per_learner=60, **training)
        .reporting(min_sample_timesteps_per_iteration=60)
        .debugging(seed=0)
    )


@pytest.mark.parametrize(
    "algo, env_config",
    [
        ("coma", {"scenario": "spread", "n_agents": 3, "n_max": 4, "max_cycles": 25}),
        ("iac", {"scenario": "multiwalker", "n_agents": 2, "n_max": 3, "max_cycles": 40}),
    ],
    ids=["coma-spread", "iac-multiwalker"],
)
def test_learner_recomputes_the_env_runner_s_log_probs_on_rollouts_cut_mid_episode(algo, env_config, ray_session):
    """The recurrent state each sequence starts from (RLlib's `STATE_IN`, also for rollouts that continue an episode
    from an earlier sample) and the unpadding line the learner's actor up with the one that acted: the same weights
    give the same log-probabilities of the sampled actions."""
    trainer = _recurrent_config(algo, env_config).build_algo()
    trainer.train()  # a first update, so that later rollouts continue episodes
    episodes = trainer.env_runner_group.local_env_runner.sample(num_timesteps=60)
    assert any(episode.t_started > 0 for episode in episodes), "some rollouts continue an episode"
    learner = trainer.learner_group._learner
    batch = learner._learner_connector(rl_module=learner.module, batch={}, episodes=episodes, shared_data={})
    batch = batch[DEFAULT_MODULE_ID]
    assert batch[Columns.LOSS_MASK].shape[1] == 7 and (batch[Columns.LOSS_MASK] == 0).any(), "padded sequences"
    module = learner.module[DEFAULT_MODULE_ID].unwrapped()
    with torch.no_grad():
        out = module.forward_train(batch)
    steps = unpadded_steps(batch)
    assert len(steps[Columns.ACTIONS]) == sum(len(episode) for episode in episodes)
    log_probs = module.actor.dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS]).logp(steps[Columns.ACTIONS])
    torch.testing.assert_close(log_probs, steps[Columns.ACTION_LOGP], atol=1e-4, rtol=1e-4)
    trainer.stop()


def test_ppo_shuffled_minibatches_keep_each_sequence_with_its_state_and_its_ppo_columns(ray_session):
    """MAPPO's advantage connector lays its columns out as RLlib's zero-padded sequences, so a minibatch RLlib
    shuffles and slices by whole sequences (as `Learner.update` does) still lines each step's old log-prob, value
    and advantage up with the step: the learner's actor, unrolled over the minibatch's sequences from their stored
    states, gives the stored old log-probs back."""
    env_config = {"scenario": "spread", "n_agents": 3, "n_max": 4, "max_cycles": 25}
    trainer = _recurrent_config("mappo", env_config, team_embedding="mean").build_algo()
    trainer.train()
    episodes = trainer.env_runner_group.local_env_runner.sample(num_timesteps=60)
    learner = trainer.learner_group._learner
    shared_data: dict = {}
    batch = learner._learner_connector(rl_module=learner.module, batch={}, episodes=episodes, shared_data=shared_data)
    assert shared_data[f"_zero_padded_for_mid={DEFAULT_MODULE_ID}"], "RLlib marks the batch as padded sequences"
    padded = SampleBatch(batch[DEFAULT_MODULE_ID], _zero_padded=True)
    assert padded[OLD_LOG_PROBS].shape[:2] == padded[Columns.LOSS_MASK].shape, "laid out as the sequences"
    np.random.seed(0)
    padded.shuffle()
    padded._slice_seq_lens_in_B = True
    minibatch = padded[0 : len(padded[Columns.SEQ_LENS]) // 2]
    module = learner.module[DEFAULT_MODULE_ID].unwrapped()
    with torch.no_grad():
        out = module.forward_train(minibatch)
    steps = unpadded_steps(minibatch)
    mask = steps[Columns.OBS]["mask"]
    log_probs = torch.log_softmax(out["logits"], -1).gather(-1, steps[Columns.ACTIONS].long().unsqueeze(-1))
    torch.testing.assert_close(log_probs.squeeze(-1) * mask, steps[OLD_LOG_PROBS] * mask, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["values"], steps[OLD_VALUES], atol=1e-5, rtol=1e-5)
    advantages = steps[Postprocessing.ADVANTAGES]
    assert torch.equal(advantages * (1 - mask), torch.zeros_like(advantages)), "absent agents have no advantage"
    trainer.stop()


@pytest.mark.parametrize("algo", ["iac", "central_v", "coma", "lica", "mappo"])
def test_recurrent_actor_critic_trains_checkpoints_and_evaluates_at_a_larger_team(algo, ray_session, tmp_path):
    env_config = {"scenario": "spread", "n_agents": 2, "n_max": 4, "max_cycles": 10}
    trainer = _recurrent_config(algo, env_config, team_embedding="graph").build_algo()
    before = [p.detach().clone() for p in trainer.learner_group._learner.module[DEFAULT_MODULE_ID].actor.parameters()]
    losses = [trainer.train()["learners"][DEFAULT_MODULE_ID]["total_loss"] for _ in range(3)]
    assert np.isfinite(losses).all()
    after = list(trainer.learner_group._learner.module[DEFAULT_MODULE_ID].actor.parameters())
    assert any(not torch.equal(b, a) for b, a in zip(before, after, strict=True)), "the GRU actor trains"
    checkpoint = trainer.save_to_path(str(tmp_path / algo))
    trainer.stop()
    played = evaluate(checkpoint, {**env_config, "n_agents": 4}, episodes=2, seed=0)
    assert played["n_agents"] == 4 and played["episode_len_mean"] == 10.0 and np.isfinite(played["return_mean"])
