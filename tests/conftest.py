"""Test session setup: quiet, headless, offline; one shared local Ray session for the tests that need it."""

import os

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_DISABLE_GIT", "true")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for every Ray-using test (2 CPUs, no dashboard, short temp dir)."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024**2,
        _temp_dir=f"/tmp/ray-{os.getuid()}",
        log_to_driver=False,
    )
    yield
    ray.shutdown()
