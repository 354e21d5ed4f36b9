"""The whole experiment's progress: a line at Tune's reporting pace (phase, trials finished, env steps finished of the
phase and of the experiment, elapsed, ETA), a `tqdm` bar on a terminal, and the wall time of each phase at the end."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ray import tune
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME
from tqdm import tqdm


def duration(seconds: float) -> str:
    """`1h 02m`, `3m 05s`, `42s`."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class ExperimentProgress:
    """The experiment's clock and env-step count across its phases.

    `total_env_steps` is every trial's budget in every phase (fine-tuning's included, known from the grid before
    the training phase starts). The rate behind the ETA is measured from the first report this process sees, so a
    resumed run's ETA counts only the steps still to run at the speed they now run; evaluation and the report are
    not env steps and come on top (their wall time is in the phase summary). Lines go to stdout; on a terminal a
    `tqdm` bar of the experiment's env steps sits below them."""

    def __init__(self, total_env_steps: int):
        self.total_env_steps = total_env_steps
        self.started = time.perf_counter()
        self.phase_seconds: dict[str, float] = {}
        self.finished_steps = 0  # env steps of the phases already over
        self._first: tuple[float, int] | None = None  # (time, experiment env steps) at this process's first report
        self._bar: tqdm | None = None

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles its callbacks with the experiment's state
        return {**self.__dict__, "_bar": None}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the phase `name` (added up if it comes again)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.phase_seconds[name] = self.phase_seconds.get(name, 0.0) + time.perf_counter() - start

    def line(self, phase: str, trials_done: int, trials_total: int, phase_steps: int, phase_total: int) -> str:
        """One line on the phase and the experiment; `phase_steps` of `phase_total` env steps of the phase done."""
        now = time.perf_counter()
        done = self.finished_steps + phase_steps
        if self._first is None:
            self._first = (now, done)
        first_time, first_done = self._first
        rate = (done - first_done) / (now - first_time) if now > first_time else 0.0
        remaining = max(self.total_env_steps - done, 0)
        eta = (
            f"ETA {duration(remaining / rate)} at {rate:,.0f} env steps/s" if rate > 0 else "ETA after the next report"
        )
        if self._bar is None and sys.stdout.isatty():
            self._bar = tqdm(total=self.total_env_steps, unit="env step", unit_scale=True)
        if self._bar is not None:
            self._bar.n = min(done, self.total_env_steps)
            self._bar.refresh()
        share = done / self.total_env_steps if self.total_env_steps else 1.0
        return (
            f"progress: {phase} phase, trials {trials_done}/{trials_total} finished, env steps {phase_steps:,}/"
            f"{phase_total:,}; experiment {done:,}/{self.total_env_steps:,} env steps ({share:.0%}), elapsed "
            f"{duration(now - self.started)}, {eta}"
        )

    def report(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text)
        else:
            print(text, flush=True)

    def finish_phase_steps(self, phase_total: int) -> None:
        """A training phase is over: its budget counts as done."""
        self.finished_steps += phase_total

    def summary(self) -> str:
        """The wall time of each phase and of the whole run."""
        if self._bar is not None:
            self._bar.close()
        phases = ", ".join(f"{name} {duration(seconds)}" for name, seconds in self.phase_seconds.items())
        return f"wall time per phase: {phases}; total {duration(time.perf_counter() - self.started)}"


class ProgressCallback(tune.Callback):
    """Reports the experiment's progress (`ExperimentProgress.line`) from one Tune phase: at most every `every_s`
    seconds (Tune's own table's pace) and whenever a trial finishes. Each trial's budget is its spec's
    `timesteps`; its progress is its latest `num_env_steps_sampled_lifetime`, capped at the budget."""

    def __init__(self, progress: ExperimentProgress, phase: str, phase_total: int, every_s: float = 30.0):
        self.progress, self.phase, self.phase_total, self.every_s = progress, phase, phase_total, every_s
        self._last = float("-inf")

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info: Any) -> None:
        if time.perf_counter() - self._last >= self.every_s:
            self._report(trials)

    # Tune calls these before it marks the trial TERMINATED or ERROR: `trial` counts as finished here.
    def on_trial_complete(self, iteration: int, trials: list, trial, **info: Any) -> None:
        self._report(trials, trial, completed=True)

    def on_trial_error(self, iteration: int, trials: list, trial, **info: Any) -> None:
        self._report(trials, trial, completed=False)

    def _report(self, trials: list, ending=None, completed: bool = False) -> None:
        self._last = time.perf_counter()
        done = sum(1 for trial in trials if trial is ending or trial.status in ("TERMINATED", "ERROR"))
        steps = sum(_trial_steps(trial, completed and trial is ending) for trial in trials)
        self.progress.report(self.progress.line(self.phase, done, len(trials), steps, self.phase_total))


def _trial_steps(trial, completed: bool) -> int:
    """The env steps of its budget `trial` has run: all of it once it completed."""
    budget = int(trial.config["trial"]["timesteps"])
    if completed or trial.status == "TERMINATED":
        return budget
    return min(int((trial.last_result or {}).get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0)), budget)
