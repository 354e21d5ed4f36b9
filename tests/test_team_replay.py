"""The team replay: n-step targets, sequences, overwriting, per-agent rewards, state round trip (numpy only), and
the conversion from RLlib's episode chunks."""

import numpy as np
import pytest
from ray.rllib.core import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rl_algos.common.replay.buffer import EpisodeChunk, TeamReplayBuffer
from rl_algos.common.replay.episode_chunks import episode_chunk
from rl_algos.common.replay.ready_batch import ready_batch

GAMMA = 0.5


def chunk(episode: int, first_t: int, rewards, terminated=False, truncated=False, agents: int = 1, hidden=False):
    """A chunk whose observation at step t is `100 * episode + t` (every agent, every key), so a sampled
    observation says which episode and step it is."""
    length = len(rewards)
    ids = 100.0 * episode + np.arange(first_t, first_t + length + 1, dtype=np.float32)  # [L + 1]
    return EpisodeChunk(
        episode_id=f"episode-{episode}",
        observations={
            "obs": np.repeat(ids[:, None, None], agents, axis=1),
            "mask": np.ones((length + 1, agents), dtype=np.float32),
        },
        actions=np.zeros((length, agents), dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminated=terminated,
        truncated=truncated,
        agent_rewards=np.stack([np.asarray(rewards) * (a + 1) for a in range(agents)], -1) if agents > 1 else None,
        hidden=np.repeat(ids[:, None, None], agents, axis=1) if hidden else None,
    )


def sampled_by_start(batch: dict) -> dict:
    """Each distinct sampled transition, keyed by its start observation id."""
    table = {}
    for i, start in enumerate(batch["obs"]["obs"][:, 0, 0]):
        row = {
            "reward": float(batch["rewards"][i]),
            "n_step": int(batch["n_step"][i]),
            "terminated": float(batch["terminateds"][i]),
            "next": float(batch["new_obs"]["obs"][i, 0, 0]),
        }
        if "agent_rewards" in batch:
            row["agent_rewards"] = batch["agent_rewards"][i].tolist()
        assert table.setdefault(float(start), row) == row  # the same start always gives the same transition
    return table


def test_three_step_returns_stop_at_termination_bootstrap_truncation_and_follow_a_split_episode():
    replay = TeamReplayBuffer(capacity=100, seed=0)
    replay.add(
        [
            chunk(1, 0, [1, 2, 3, 4], terminated=True),
            chunk(2, 0, [10, 20, 30], truncated=True),
            chunk(3, 0, [1, 1]),  # episode 3 goes on in the next sample call
        ]
    )
    before = sampled_by_start(replay.sample_transitions(2000, n_step=3, gamma=GAMMA))
    # gamma 0.5: 1 + 0.5 * 1 = 1.5 from step 0 (2 steps stored so far), bootstrapped from the open end, step 2
    assert before[300.0] == {"reward": 1.5, "n_step": 2, "terminated": 0.0, "next": 302.0}
    assert before[301.0] == {"reward": 1.0, "n_step": 1, "terminated": 0.0, "next": 302.0}

    replay.add([chunk(3, 2, [1, 1], terminated=True)])
    after = sampled_by_start(replay.sample_transitions(2000, n_step=3, gamma=GAMMA))
    assert len(after) == len(replay) == 4 + 3 + 4
    expected = {
        # terminated episode: 1 + 0.5 * 2 + 0.25 * 3; then windows that reach the terminal step do not bootstrap
        100.0: {"reward": 2.75, "n_step": 3, "terminated": 0.0, "next": 103.0},
        101.0: {"reward": 4.5, "n_step": 3, "terminated": 1.0, "next": 104.0},
        102.0: {"reward": 5.0, "n_step": 2, "terminated": 1.0, "next": 104.0},
        103.0: {"reward": 4.0, "n_step": 1, "terminated": 1.0, "next": 104.0},
        # truncated episode: every window bootstraps from the final observation
        200.0: {"reward": 27.5, "n_step": 3, "terminated": 0.0, "next": 203.0},
        201.0: {"reward": 35.0, "n_step": 2, "terminated": 0.0, "next": 203.0},
        202.0: {"reward": 30.0, "n_step": 1, "terminated": 0.0, "next": 203.0},
        # the episode split over two sample calls reads as one
        300.0: {"reward": 1.75, "n_step": 3, "terminated": 0.0, "next": 303.0},
        301.0: {"reward": 1.75, "n_step": 3, "terminated": 1.0, "next": 304.0},
        302.0: {"reward": 1.5, "n_step": 2, "terminated": 1.0, "next": 304.0},
        303.0: {"reward": 1.0, "n_step": 1, "terminated": 1.0, "next": 304.0},
    }
    assert after == expected
    assert replay.env_steps_added == 11


def test_one_step_transitions_and_per_agent_rewards_summed_like_the_team_reward():
    replay = TeamReplayBuffer(capacity=50, seed=1)
    replay.add([chunk(1, 0, [1, 2, 4], terminated=True, agents=2)])
    one = sampled_by_start(replay.sample_transitions(500, n_step=1, gamma=GAMMA))
    assert one[101.0] == {"reward": 2.0, "n_step": 1, "terminated": 0.0, "next": 102.0, "agent_rewards": [2.0, 4.0]}
    two = sampled_by_start(replay.sample_transitions(500, n_step=2, gamma=GAMMA))
    # agent a's reward is (a + 1) times the team's: summed with the same discounts
    assert two[100.0] == {"reward": 2.0, "n_step": 2, "terminated": 0.0, "next": 102.0, "agent_rewards": [2.0, 4.0]}
    assert two[101.0] == {"reward": 4.0, "n_step": 2, "terminated": 1.0, "next": 103.0, "agent_rewards": [4.0, 8.0]}


def test_a_ready_batch_scales_the_team_and_agent_rewards_and_leaves_the_replay_as_it_was():
    replay = TeamReplayBuffer(capacity=50, seed=1)
    replay.add([chunk(1, 0, [1, 2, 4], terminated=True, agents=2)])
    sample = replay.sample_transitions(6, n_step=1, gamma=GAMMA)
    raw = {key: sample[key].copy() for key in ("rewards", "agent_rewards", "terminateds")}
    columns = ready_batch(sample, 2, device=None, reward_scale=0.25)["default_policy"]
    assert columns["rewards"].shape == (2, 3)
    np.testing.assert_array_equal(columns["rewards"].reshape(-1), raw["rewards"] * 0.25)
    np.testing.assert_array_equal(columns["agent_rewards"].reshape(-1, 2), raw["agent_rewards"] * 0.25)
    np.testing.assert_array_equal(columns["terminateds"].reshape(-1), raw["terminateds"])
    np.testing.assert_array_equal(sample["rewards"], raw["rewards"])  # the sample (and the replay) unscaled
    unscaled = ready_batch(sample, 2, device=None)["default_policy"]
    np.testing.assert_array_equal(unscaled["rewards"].reshape(-1), raw["rewards"])


def test_sequences_are_padded_after_the_episode_end_with_a_zero_loss_mask_and_carry_stored_states():
    replay = TeamReplayBuffer(capacity=50, seed=2)
    replay.add([chunk(1, 0, [1, 2], hidden=True)])
    replay.add([chunk(1, 2, [3, 4], terminated=True, hidden=True)])
    batch = replay.sample_sequences(400, length=3)
    assert batch["obs"]["obs"].shape == (400, 3, 1, 1) and batch["loss_mask"].shape == (400, 3)
    seen = set()
    for i in range(400):
        start = batch["obs"]["obs"][i, 0, 0, 0]
        steps = int(min(3, 104 - start))  # steps left in the episode from `start`
        seen.add(start)
        assert batch["loss_mask"][i].tolist() == [1.0] * steps + [0.0] * (3 - steps)
        valid_obs = batch["obs"]["obs"][i, :steps, 0, 0]
        np.testing.assert_array_equal(valid_obs, start + np.arange(steps))
        np.testing.assert_array_equal(batch["new_obs"]["obs"][i, :steps, 0, 0], start + 1 + np.arange(steps))
        np.testing.assert_array_equal(batch["rewards"][i, :steps], start - 100 + 1 + np.arange(steps))
        assert batch["terminateds"][i, steps - 1] == (1.0 if start + steps == 104 else 0.0)
        # the recurrent state stored with the first observation and with the one after it
        assert batch["state_in"]["h"][i, 0, 0] == start and batch["next_state_in"]["h"][i, 0, 0] == start + 1
    assert seen == {100.0, 101.0, 102.0, 103.0}


def test_the_oldest_rows_are_overwritten_at_capacity_and_later_transitions_survive():
    replay = TeamReplayBuffer(capacity=7, seed=3)
    replay.add([chunk(1, 0, [1, 1], truncated=True)])  # rows 0-2
    replay.add([chunk(2, 0, [2, 2, 2], terminated=True)])  # rows 3-6: full
    assert len(replay) == 5
    replay.add([chunk(3, 0, [3])])  # rows 0-1: episode 1's two transitions are gone, episode 3 stays open
    assert len(replay) == 4
    starts = set(replay.sample_transitions(300, n_step=2, gamma=GAMMA)["obs"]["obs"][:, 0, 0].tolist())
    assert starts == {200.0, 201.0, 202.0, 300.0}
    # rows 2-6 and 0: episode 2 and episode 3's first step are overwritten, episode 3's open end (row 1) is not
    replay.add([chunk(4, 0, [4, 4, 4, 4, 4], terminated=True)])
    # the continuation would claim row 1 itself: it is stored afresh from its first observation (rows 1-2,
    # overwriting episode 4's first step), never linked to an overwritten row
    replay.add([chunk(3, 1, [3], terminated=True)])
    table = sampled_by_start(replay.sample_transitions(1000, n_step=2, gamma=GAMMA))
    assert table == {
        401.0: {"reward": 6.0, "n_step": 2, "terminated": 0.0, "next": 403.0},
        402.0: {"reward": 6.0, "n_step": 2, "terminated": 0.0, "next": 404.0},
        403.0: {"reward": 6.0, "n_step": 2, "terminated": 1.0, "next": 405.0},
        404.0: {"reward": 4.0, "n_step": 1, "terminated": 1.0, "next": 405.0},
        301.0: {"reward": 3.0, "n_step": 1, "terminated": 1.0, "next": 302.0},
    }
    assert len(replay) == 5 and replay.env_steps_added == 2 + 3 + 1 + 5 + 1


def test_a_chunk_longer_than_the_capacity_is_refused():
    with pytest.raises(ValueError, match="does not fit a replay of capacity 4"):
        TeamReplayBuffer(capacity=4).add([chunk(1, 0, [1, 1, 1, 1])])


def test_state_round_trip_continues_the_same_samples():
    replay = TeamReplayBuffer(capacity=30, seed=4)
    replay.add([chunk(1, 0, [1, 2, 3], truncated=True), chunk(2, 0, [5, 6])])
    restored = TeamReplayBuffer(capacity=30, seed=99)
    restored.set_state(replay.get_state())
    for _ in range(3):
        a, b = replay.sample_transitions(32, n_step=2, gamma=0.9), restored.sample_transitions(32, 2, 0.9)
        for key in ("rewards", "n_step", "terminateds"):
            np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a["new_obs"]["obs"], b["new_obs"]["obs"])
    # the open end survives the round trip: the continuation links to it
    replay.add([chunk(2, 2, [7], terminated=True)])
    restored.add([chunk(2, 2, [7], terminated=True)])
    assert sampled_by_start(restored.sample_transitions(200, 3, GAMMA))[200.0] == {
        "reward": 5 + 3 + 1.75,
        "n_step": 3,
        "terminated": 1.0,
        "next": 203.0,
    }
    with pytest.raises(ValueError, match="set replay_capacity=30 to restore it"):
        TeamReplayBuffer(capacity=31).set_state(replay.get_state())


def test_rllib_episode_chunks_become_arrays_with_the_recurrent_state_before_each_observation():
    def observation(t):
        return {"obs": np.full((2, 3), t, np.float32), "mask": np.array([1.0, 0.0], np.float32)}

    episode = SingleAgentEpisode(observations=[observation(0)], infos=[{}], len_lookback_buffer=0)
    for t in range(3):
        episode.add_env_step(
            observation(t + 1),
            np.array([t, 0]),
            float(t),
            infos={"agent_rewards": np.array([t, 0.0], np.float32)},
            extra_model_outputs={Columns.STATE_OUT: {"h": np.full((2, 4), 10.0 + t, np.float32)}},
        )
    continuation = episode.cut(len_lookback_buffer=1)
    continuation.add_env_step(
        observation(4),
        np.array([3, 0]),
        3.0,
        infos={"agent_rewards": np.array([3.0, 0.0], np.float32)},
        terminated=True,
        extra_model_outputs={Columns.STATE_OUT: {"h": np.full((2, 4), 13.0, np.float32)}},
    )
    first = episode_chunk(episode.to_numpy(), agent_rewards=True, hidden=True)
    second = episode_chunk(continuation.to_numpy(), agent_rewards=True, hidden=True)
    assert len(first) == 3 and not first.done and second.terminated and first.episode_id == second.episode_id
    np.testing.assert_array_equal(first.observations["obs"][:, 0, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(second.observations["obs"][:, 0, 0], [3, 4])
    np.testing.assert_array_equal(first.agent_rewards[:, 0], [0, 1, 2])
    # zeros before the episode's first action, then each step's state_out; the continuation starts from the
    # previous chunk's last state_out
    np.testing.assert_array_equal(first.hidden[:, 0, 0], [0, 10, 11, 12])
    np.testing.assert_array_equal(second.hidden[:, 0, 0], [12, 13])

    replay = TeamReplayBuffer(capacity=20, seed=0)
    replay.add([first, second])
    batch = replay.sample_transitions(200, n_step=4, gamma=1.0)
    assert batch["rewards"][batch["obs"]["obs"][:, 0, 0] == 0].tolist()[0] == 0 + 1 + 2 + 3
