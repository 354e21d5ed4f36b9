"""`StorageGuard`: a Tune phase stops, resumable, while its disk still has room for Tune's own state, instead of
failing every trial in turn once the disk is full.

Measured without it (a smoke run on a 12 MB tmpfs): the first checkpoint that did not fit failed its trial, Tune
retried it, then started and failed each remaining trial the same way, 53 tracebacks and 1,300 lines on stderr in
15 minutes, and nothing said the disk was full. Stopping at that first failure (as Ctrl-C does) is not enough
either: Tune's experiment state, written once more on the way out, was cut short on the full disk, and `--resume`
then could not restore the phase (Tune restarted it with no trials: `KeyError: 'trial'`). So the guard checks the
free space at every trial result and checkpoint and stops the phase while it still exceeds what a checkpoint needs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
from pathlib import Path
from typing import ClassVar

from ray import tune

# Free space the guard keeps at least: a checkpoint of a replay learner with its replay is about 45 MB (spread,
# `n_max` 6); twice the largest checkpoint seen in the phase when that is more.
MIN_FREE_BYTES = 64 * 1024**2


def storage_full(error: BaseException) -> bool:
    """Whether an error is the disk filling up (pyarrow and Tune report it as an OSError without `errno`)."""
    return getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error)


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


class StorageGuard(tune.Callback):
    """Watches a local Tune experiment folder: when the disk under it has less free space than `needed()` at a
    trial's result, checkpoint or failure, asks Tune to stop the phase gracefully (SIGUSR1, as its first Ctrl-C:
    the experiment state saved, every unfinished trial resumable from its last checkpoint) and records the folder
    (`tripped`). Tune pickles its callbacks with the experiment and a resumed phase runs an unpickled copy, so the
    record is kept per process, by folder, not on the instance."""

    _tripped: ClassVar[set[str]] = set()

    def __init__(self, folder: Path, min_free: int = MIN_FREE_BYTES):
        self.folder, self.min_free = str(folder), min_free
        self.largest_checkpoint = 0

    @classmethod
    def tripped(cls, folder: Path) -> bool:
        """Whether a guard of `folder` stopped its phase for lack of space (in this process)."""
        return str(folder) in cls._tripped

    def needed(self) -> int:
        return max(self.min_free, 2 * self.largest_checkpoint)

    def free_bytes(self) -> int:
        folder = Path(self.folder)
        while not folder.exists():
            folder = folder.parent
        return shutil.disk_usage(folder).free

    def _check(self) -> None:
        if self.folder not in self._tripped and self.free_bytes() < self.needed():
            self._tripped.add(self.folder)
            os.kill(os.getpid(), signal.SIGUSR1)  # Tune's graceful stop

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        self._check()

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        if Path(checkpoint.path).is_dir():
            self.largest_checkpoint = max(self.largest_checkpoint, folder_bytes(Path(checkpoint.path)))
        self._check()

    def on_trial_recover(self, iteration, trials, trial, **info) -> None:
        self._check()

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._check()

    @staticmethod
    def clear_full_disk_failures(folder: Path) -> bool:
        """Whether a trial of the Tune experiment in `folder` failed on a full disk: its `error.txt` says so, or is
        empty because the disk was already full when Tune wrote it. A resumed phase then retries failed trials from
        their last checkpoints, and the empty error files go (Tune cannot read an empty `error.pkl` back)."""
        failed = False
        for error_text in folder.glob("*/error.txt"):
            if error_text.stat().st_size == 0:
                for empty in (error_text, error_text.with_suffix(".pkl")):
                    if empty.exists() and empty.stat().st_size == 0:
                        empty.unlink()
                failed = True
            elif "No space left on device" in error_text.read_text():
                failed = True
        return failed


def readable_state(folder: Path) -> bool:
    """Whether the newest Tune experiment state in `folder` is whole JSON (a full disk can cut it short; Tune then
    cannot restore the phase)."""
    states = sorted(folder.glob("experiment_state-*.json"))
    if not states:
        return False
    try:
        json.loads(states[-1].read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True
