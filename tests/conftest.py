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


@pytest.fixture
def tensorboard_scalars():
    """A reader: {(tag, step): value} of every TensorBoard event file in a folder, through TensorBoard's own loader
    (what `tensorboard --logdir` shows)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(folder):
        scalars = {}
        for path in sorted(folder.glob("events.out.tfevents.*")):
            events = EventAccumulator(str(path), size_guidance={"scalars": 0})
            events.Reload()
            for tag in events.Tags()["scalars"]:
                scalars.update({(tag, event.step): event.value for event in events.Scalars(tag)})
        return scalars

    return read
