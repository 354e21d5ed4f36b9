"""`TeamEnvRunner.sample_rollout`: the on-policy batch sampled as arrays holds RLlib's episodes' steps, laid out
world by world, and trains the learner exactly as the episodes do."""

import numpy as np
import pytest

import rl_algos
from rl_algos.common.learners.connectors import ROLLOUT_CUTS
from rl_algos.common.loops.rollout_env_runner import TeamEnvRunner

SCENARIOS = {
    "vmas": {"scenario": "vmas:spread", "n_agents": 2, "n_max": 4, "max_steps": 5},
    "pettingzoo": {"scenario": "spread", "n_agents": 2, "n_max": 3, "max_cycles": 5},
}


def build(env_config, array_rollouts=True, algo="mappo", **training):
    return (
        rl_algos.get_config(algo)
        .environment("team", env_config=env_config)
        .env_runners(num_env_runners=0, num_envs_per_env_runner=4)
        .training(train_batch_size_per_learner=30, array_rollouts=array_rollouts, **training)
        .reporting(min_sample_timesteps_per_iteration=30)
        .debugging(seed=3)
        .build_algo()
    )


def segments(columns):
    """The rollouts of a batch laid end to end, cut after each `ROLLOUT_CUTS` step: (obs, actions, rewards) each."""
    ends = np.flatnonzero(columns[ROLLOUT_CUTS]) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [
        (columns["obs"]["obs"][a:b], np.asarray(columns["actions"][a:b]), columns["rewards"][a:b])
        for a, b in zip(starts, ends, strict=True)
    ]


def by_first_observation(rollouts):
    return sorted(rollouts, key=lambda rollout: rollout[0][0].tobytes())


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_array_rollout_holds_the_episodes_steps_world_by_world(ray_session, scenario):
    # one after the other: building an algorithm reseeds the process's torch generator, which both draw actions from
    arrays = build(SCENARIOS[scenario])
    columns = arrays.env_runner.sample_rollout(30)
    arrays.stop()
    episodes = build(SCENARIOS[scenario], array_rollouts=False)
    sampled = episodes.env_runner.sample(num_timesteps=30)
    episodes.stop()

    steps = len(columns["rewards"])
    assert 30 <= steps < 30 + 4 and steps == sum(len(e) for e in sampled)
    cuts = columns[ROLLOUT_CUTS]
    within = cuts[:-1] == 0.0  # consecutive steps of one rollout: the next observation is the next step's
    np.testing.assert_array_equal(columns["new_obs"]["obs"][:-1][within], columns["obs"]["obs"][1:][within])
    done = columns["terminateds"] | columns["truncateds"]
    assert cuts[done].all() and cuts.sum() == len(sampled), "a cut after every episode end and each world's last step"

    # the same seed draws the same actions: RLlib's episode chunks are the array rollout's pieces
    expected = [(e.get_observations()["obs"][:-1], np.asarray(e.get_actions()), e.get_rewards()) for e in sampled]
    for got, want in zip(by_first_observation(segments(columns)), by_first_observation(expected), strict=True):
        for got_column, want_column in zip(got, want, strict=True):
            np.testing.assert_allclose(got_column, want_column, rtol=1e-6)


@pytest.mark.parametrize("algo", ["mappo", "central_v"])
def test_a_ready_array_batch_trains_as_the_episodes_do(ray_session, algo):
    runs = {}
    for array_rollouts in (True, False):
        trainer = build(SCENARIOS["vmas"], array_rollouts, algo=algo)
        result = trainer.train()
        trainer.stop()
        runs[array_rollouts] = result
    with_arrays, with_episodes = runs[True], runs[False]
    for key in ("total_loss", "policy_loss", "vf_loss", "entropy"):
        got, want = with_arrays["learners"]["default_policy"][key], with_episodes["learners"]["default_policy"][key]
        assert got == pytest.approx(want, rel=1e-4, abs=1e-6), f"{algo} {key}: arrays {got}, episodes {want}"
    for key in ("num_env_steps_sampled_lifetime", "episode_return_mean", "num_episodes"):
        assert with_arrays["env_runners"][key] == pytest.approx(with_episodes["env_runners"][key])


@pytest.mark.slow  # starting two remote env runners takes minutes on a busy two-core machine
def test_remote_env_runners_share_the_array_batch(ray_session):
    config = (
        rl_algos.get_config("mappo")
        .environment("team", env_config=SCENARIOS["vmas"])
        .env_runners(num_env_runners=2, num_envs_per_env_runner=4)
        .training(train_batch_size_per_learner=40)
        .reporting(min_sample_timesteps_per_iteration=40)
        .debugging(seed=3)
    )
    trainer = config.build_algo()
    module = trainer.learner_group._learner.module["default_policy"]
    before = [p.detach().clone() for p in module.parameters()]
    results = [trainer.train() for _ in range(2)]
    moved = [
        not np.array_equal(b.numpy(), p.detach().numpy()) for b, p in zip(before, module.parameters(), strict=True)
    ]
    trainer.stop()
    sampled = [r["env_runners"]["num_env_steps_sampled_lifetime"] for r in results]
    assert 40 <= sampled[0] < 40 + 2 * 4 and 80 <= sampled[1] < 80 + 4 * 4, "each runner samples half the batch"
    assert results[1]["env_runners"]["num_episodes_lifetime"] >= 8, "5-step episodes on 8 worlds: each ended once"
    assert all(moved), "the learner trained on the runners' arrays"


def test_rllib_sample_after_an_array_rollout_starts_fresh_episodes(ray_session):
    trainer = build(SCENARIOS["vmas"])
    trainer.env_runner.sample_rollout(12)
    played = trainer.env_runner.sample(num_episodes=2, explore=False)
    columns = trainer.env_runner.sample_rollout(12)
    trainer.stop()
    assert [len(e) for e in played] == [5, 5] and all(e.t_started == 0 for e in played)
    assert len(columns["rewards"]) >= 12


def test_array_rollouts_need_a_stateless_actor_and_the_team_env_runner():
    config = rl_algos.get_config("mappo").environment("team", env_config=SCENARIOS["vmas"])
    assert config.uses_array_rollouts() and config.env_runner_cls is TeamEnvRunner
    assert not config.copy(copy_frozen=False).training(recurrent=True).uses_array_rollouts()
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    with pytest.raises(ValueError, match="env_runner_cls is SingleAgentEnvRunner; subclass TeamEnvRunner"):
        config.env_runners(env_runner_cls=SingleAgentEnvRunner).validate()
