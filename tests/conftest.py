"""Shared fixtures: a real vineyardd on a private socket, raw data, and the steps as processes."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.ci import require
from tests.support.files import data_dir_with_raw
from tests.support.processes import run_cli
from tests.support.steps_table import STEP_IMAGES, image
from tests.support.vineyard import start_vineyardd


@pytest.fixture(scope="session")
def short_tmp():
    # unix socket paths are limited to 107 bytes: pytest's tmp paths can be longer.
    path = Path(tempfile.mkdtemp(prefix="shmpipe-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def vineyard_socket(short_tmp):
    process = start_vineyardd(short_tmp / "vineyard")
    yield str(short_tmp / "vineyard" / "vineyard.sock")
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def raw_data_dir(tmp_path_factory):
    """A data dir holding the raw table at multiplier 1 (shared, read-only for tests)."""
    data_dir = tmp_path_factory.mktemp("data")
    run_cli("prepare-data", "--multiplier", 1, "--data-dir", data_dir)
    return data_dir


@pytest.fixture
def data_dir(raw_data_dir, tmp_path):
    """A fresh data dir whose raw table links to the shared one."""
    return data_dir_with_raw(raw_data_dir, tmp_path)


@pytest.fixture
def isolated_env(tmp_path, short_tmp):
    """Environment with no vineyard configured and a private embedded-vineyardd directory."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VINEYARD_IPC_SOCKET", "VINEYARD_CONFIG")
    }
    env["SHMPIPE_VINEYARD_DIR"] = tempfile.mkdtemp(prefix="emb-", dir=short_tmp)
    env["SHMPIPE_VINEYARD_SIZE"] = "1Gi"
    return env


@pytest.fixture(scope="session")
def docker_client():
    """A Docker engine with every image `make images vineyardd-image` builds."""
    try:
        import docker  # the Docker SDK, which testcontainers depends on
    except ImportError:
        require(False, "the docker Python package is not installed (uv sync installs it)")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure here means "no usable Docker"
        require(False, f"no Docker engine ({type(e).__name__}: {e})")
    missing = []
    for tag in [image(name) for name in [*STEP_IMAGES, "vineyardd"]]:
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            missing.append(tag)
    require(not missing, f"images not built: {missing} (run `make images vineyardd-image`)")
    return client
