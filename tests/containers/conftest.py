"""Fixtures for the step images: a Docker engine, the built images, a vineyardd container."""

import os
import time

import pytest

from tests.support.files import world_writable
from tests.support.steps_table import image

# testcontainers' reaper (Ryuk) is an image pulled from Docker Hub, unreachable from air-gapped
# machines; every container here is removed by its context manager instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


@pytest.fixture
def vineyard_dir(docker_client, tmp_path):
    """What Fluid's mount gives a pod at /var/run/vineyard: vineyard-config.yaml and the socket it
    names (relative to the file), here served by a vineyardd container."""
    from testcontainers.core.container import DockerContainer

    directory = world_writable(tmp_path / "vineyard")
    (directory / "vineyard-config.yaml").write_text("Vineyard:\n  IPCSocket: vineyard.sock\n")
    vineyardd = (
        DockerContainer(image("vineyardd"))
        .with_volume_mapping(str(directory), "/var/run/vineyard", "rw")
        .with_kwargs(network_mode="none", read_only=True, cap_drop=["ALL"])
    )
    with vineyardd:
        deadline = time.monotonic() + 60
        while not (directory / "vineyard.sock").exists():
            wrapped = vineyardd.get_wrapped_container()
            wrapped.reload()
            if wrapped.status == "exited" or time.monotonic() > deadline:
                stdout, stderr = vineyardd.get_logs()
                pytest.fail(f"vineyardd did not start:\n{stdout.decode()}{stderr.decode()}")
            time.sleep(0.2)
        yield directory
