"""From RLlib's sampled `SingleAgentEpisode` chunks to the team replay's `EpisodeChunk` arrays, and the env-runner
call that samples and converts in one go (so remote env runners ship plain arrays, not episode objects)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from ray.rllib.core import Columns

from rl_algos.common.replay.buffer import AGENT_REWARDS, HIDDEN, EpisodeChunk


def episode_chunk(episode: Any, agent_rewards: bool = False, hidden: bool = False) -> EpisodeChunk:
    """The arrays of one numpy'd `SingleAgentEpisode` chunk of the team env.

    `agent_rewards`: also take `infos["agent_rewards"]` of every step (the info after step t holds its rewards);
    `hidden`: also take the recurrent state before each observation: the previous chunk's last `state_out`
    (its lookback) or zeros at the episode's start, then this chunk's `state_out`s.
    """
    length = len(episode)
    chunk = EpisodeChunk(
        episode_id=episode.id_,
        observations=episode.get_observations(),
        actions=np.asarray(episode.get_actions()),
        rewards=np.asarray(episode.get_rewards(), dtype=np.float32),
        terminated=episode.is_terminated,
        truncated=episode.is_truncated,
    )
    if agent_rewards:
        infos = episode.get_infos()
        chunk.agent_rewards = np.stack([info[AGENT_REWARDS] for info in infos[1 : length + 1]]).astype(np.float32)
    if hidden:
        state_out = episode.get_extra_model_outputs(key=Columns.STATE_OUT)[HIDDEN]  # [L, n_max, H]
        if episode.t_started > 0:
            lookback = episode.get_extra_model_outputs(key=Columns.STATE_OUT, indices=-1, neg_index_as_lookback=True)
            first = lookback[HIDDEN]
        else:
            first = np.zeros_like(state_out[0])
        chunk.hidden = np.concatenate([first[None], state_out]).astype(np.float32)
    return chunk


def episode_chunks(episodes: Iterable[Any], agent_rewards: bool = False, hidden: bool = False) -> list[EpisodeChunk]:
    """`episode_chunk` of every non-empty episode chunk, in order."""
    return [episode_chunk(e, agent_rewards, hidden) for e in episodes if len(e) > 0]


def sample_chunks(
    env_runner: Any, env_steps_sampled: int, agent_rewards: bool = False, hidden: bool = False
) -> tuple[list, dict]:
    """Run on an env runner: one exploring `sample()` round as `EpisodeChunk`s, and the runner's metrics. The
    runner first learns the algorithm's env steps sampled so far, which its exploration schedules run on (what
    RLlib's env-runner state sync would tell it, without waiting for a runner that is busy sampling)."""
    env_runner.num_env_steps_sampled_lifetime = env_steps_sampled
    return episode_chunks(env_runner.sample(), agent_rewards, hidden), env_runner.get_metrics()
