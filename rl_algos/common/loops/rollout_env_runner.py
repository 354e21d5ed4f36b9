"""`TeamEnvRunner`: RLlib's env runner with a second way to sample, `sample_rollout`, that steps the vector env
with batched arrays and returns the on-policy learners' batch columns, no `SingleAgentEpisode` in between."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import tree
from ray.rllib.core import Columns
from ray.rllib.env.env_runner import ENV_STEP_FAILURE
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.utils.metrics import SAMPLE_TIMER

from rl_algos.common.learners.connectors import ROLLOUT_CUTS


class TeamEnvRunner(SingleAgentEnvRunner):
    """RLlib's `SingleAgentEnvRunner`, plus `sample_rollout` for the on-policy team learners of a stateless module.

    RLlib's `sample()` keeps one `SingleAgentEpisode` per env and moves every observation through per-env connector
    steps (unbatch, episode append, re-batch) and, at the end of each round, cuts and numpy'fies every episode. With
    256 VMAS worlds that bookkeeping is most of the sampling time (profiled: the env's own step about 12%, the
    connector pipelines 26%, the end-of-round episode cut and `to_numpy` 25%), and the learner's connectors then turn
    the episodes back into arrays. `sample_rollout` keeps the vector env's batched arrays as they come: it runs the
    module's `forward_exploration` on all worlds at once, draws the actions from the module's exploration
    distribution as RLlib's `GetActions` does, steps the env (RLlib's `_try_env_step`, so a failing env is recreated
    as `restart_failed_sub_environments` asks), and lays the steps out as the learner connectors would: each world's
    steps in time order, world after world, with the observation, the next one, where each rollout stops
    (`ROLLOUT_CUTS`: an episode's end or the world's last step of this round) and RLlib's sampling metrics.

    The vector env autoresets in gymnasium's next-step mode: the step after a world's episode ends only resets it
    (its action is ignored, no env step is counted), as in RLlib's loop. The two ways share the env: RLlib's
    `sample()` and `sample_rollout` each reset it at their next call after the other moved it on (seeded only at the
    runner's first reset, as RLlib does).
    """

    _rollout_obs: dict[str, np.ndarray] | None = None  # each world's current observation; None: reset first
    _episodes_stale = False  # `sample_rollout` moved the env on under RLlib's ongoing episodes

    def _sample(self, **kwargs) -> list:
        self._rollout_obs = None
        if self._episodes_stale:
            kwargs["force_reset"], self._episodes_stale = True, False
        return super()._sample(**kwargs)

    def sample_rollout(self, num_timesteps: int) -> dict[str, Any]:
        """At least `num_timesteps` exploring env steps (fewer than `num_timesteps + num_envs`) as batch columns of N
        steps (numpy): `obs` and `new_obs` (the team env's observation dicts), `actions`, `rewards` (float32),
        `terminateds`, `truncateds` (bool), `rollout_cuts` (float32, 1.0 at each rollout's last step)."""
        with self.metrics.log_time(SAMPLE_TIMER):
            while True:
                steps = self._rollout_steps(num_timesteps)
                if steps is not None:
                    return steps

    def _rollout_steps(self, num_timesteps: int) -> dict[str, Any] | None:
        """One round of `sample_rollout`, or None when the env failed and was recreated (the round starts over)."""
        if self._rollout_obs is None:
            self._reset_rollout()
        num_worlds = self.num_envs
        observations, actions, rewards, terminateds, truncateds, stepped = [self._rollout_obs], [], [], [], [], []
        completed = 0
        num_steps = 0
        while num_steps < num_timesteps:
            actions.append(self._explore(observations[-1], num_steps))
            result = self._try_env_step(actions[-1])
            if result is ENV_STEP_FAILURE:
                self._rollout_obs = None
                return None
            # copies: a vector env may hand out the same buffers at every step (gymnasium's `copy=False`)
            obs, reward, terminated, truncated = tree.map_structure(np.array, result[:4])
            real = ~self._episode_ended  # [W]: worlds that took a step (the others were only reset)
            num_steps += int(real.sum())
            ended = real & (terminated | truncated)
            completed += self._track_episodes(real, ended, reward)
            self._episode_ended = ended
            observations.append(obs)
            rewards.append(reward)
            terminateds.append(terminated)
            truncateds.append(truncated)
            stepped.append(real)
        self._rollout_obs = observations[-1]
        self._log_env_steps(metric=self._metrics_num_env_steps_sampled, num_steps=num_steps)
        self._increase_sampled_metrics(num_steps, completed)

        real = np.stack(stepped, axis=1)  # [W, K]: world w took a step at vector step k

        def world_major(per_step: list[np.ndarray]) -> np.ndarray:
            """K arrays [W, ...] -> the real steps [N, ...], each world's in time order, world after world."""
            return np.stack(per_step, axis=1)[real]

        done = world_major(terminateds) | world_major(truncateds)
        last_step = np.zeros_like(real)
        last_step[np.arange(num_worlds), real.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1)] = True
        last_step &= real
        return {
            Columns.OBS: tree.map_structure(lambda *xs: world_major(list(xs)), *observations[:-1]),
            Columns.NEXT_OBS: tree.map_structure(lambda *xs: world_major(list(xs)), *observations[1:]),
            Columns.ACTIONS: world_major(actions),
            Columns.REWARDS: world_major(rewards).astype(np.float32),
            Columns.TERMINATEDS: world_major(terminateds).astype(bool),
            Columns.TRUNCATEDS: world_major(truncateds).astype(bool),
            ROLLOUT_CUTS: (done | last_step[real]).astype(np.float32),
        }

    def _reset_rollout(self) -> None:
        """Reset every world (seeded with the runner's seed at its first reset, as RLlib's `sample()`)."""
        obs, _ = self._try_env_reset(seed=self._seed if self._needs_initial_reset else None)
        self._rollout_obs = tree.map_structure(np.array, obs)
        self._needs_initial_reset, self._episodes_stale = False, True
        self._episode_ended = np.zeros(self.num_envs, bool)
        self._episode_return = np.zeros(self.num_envs)
        self._episode_length = np.zeros(self.num_envs, np.int64)
        self._episode_start = np.full(self.num_envs, time.perf_counter())

    @torch.no_grad()
    def _explore(self, obs: dict[str, np.ndarray], steps_this_round: int) -> np.ndarray:
        """The module's exploring joint actions for every world, `[W, ...]` (numpy, env-ready)."""
        runners = self.config.num_env_runners or 1
        t = (self.num_env_steps_sampled_lifetime // runners + steps_this_round) * runners
        batch = {Columns.OBS: tree.map_structure(torch.from_numpy, obs)}
        out = self.module.forward_exploration(batch, t=t)
        dist = self.module.get_exploration_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        return dist.sample().numpy()

    def _track_episodes(self, real: np.ndarray, ended: np.ndarray, reward: np.ndarray) -> int:
        """Add this step's rewards to the worlds' episode returns and log RLlib's episode metrics (return, length,
        duration) of those that ended; returns how many ended."""
        self._episode_return[real] += reward[real]
        self._episode_length[real] += 1
        now = time.perf_counter()
        for world in np.flatnonzero(ended):
            self._log_episode_metrics(
                int(self._episode_length[world]),
                float(self._episode_return[world]),
                now - self._episode_start[world],
            )
        restarting = self._episode_ended  # reset in this step: their next episode starts now
        self._episode_return[ended] = 0.0
        self._episode_length[ended] = 0
        self._episode_start[restarting] = now
        return int(ended.sum())
