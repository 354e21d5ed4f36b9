"""`ExperimentLock`: one transfer experiment folder, one running `transfer.py`.

Two runs with the same `--name` would interleave their rows in one `transfer.csv` and overwrite each other's
`settings.yaml`; the lock makes the second one stop before it touches anything. It is an exclusive `flock` on
`<storage>/<name>/.lock`, held for the run's lifetime and released by the operating system when the process ends,
however it ends (a crash or `kill -9` leaves nothing stale to clean up). Object-store storage (`s3://`, `gs://`) has
no such lock: there, keep one driver per `--name`.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path
from typing import IO

from experiments.transfer_experiment.settings import SettingsError


class ExperimentLock:
    """Holds `<folder>/.lock` exclusively from `acquire()` to `release()`; a second holder is refused with a
    `SettingsError` that names the first (pid, host, start time)."""

    FILE = ".lock"

    def __init__(self, folder: Path):
        self.folder = folder
        self._handle: IO[str] | None = None

    def acquire(self) -> ExperimentLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / self.FILE, "a+")  # noqa: SIM115 - held open until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise SettingsError(
                f"experiment {self.folder} is in use by another transfer.py ({holder}); wait for it to finish, "
                "or choose another --name"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
