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
    """A reader: {(tag, step): value} of every TensorBoard event file in a folder."""
    import struct

    from tensorboardX.proto import event_pb2

    def read(folder):
        scalars = {}
        for path in folder.glob("events.out.tfevents.*"):
            data, offset = path.read_bytes(), 0
            while offset < len(data):  # TFRecord: length (8 bytes), its crc (4), the event, its crc (4)
                (length,) = struct.unpack("<Q", data[offset : offset + 8])
                event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
                offset += 12 + length + 4
                for value in event.summary.value:
                    scalars[(value.tag, event.step)] = value.simple_value
        return scalars

    return read
