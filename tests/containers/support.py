"""What the container tests and their fixtures share."""

import os
from pathlib import Path

import pytest

REGISTRY = os.environ.get("REGISTRY", "test-registry")
TAG = os.environ.get("TAG", "latest")
# image -> the workspace packages it must carry (and no other step's)
STEP_IMAGES = {
    "prepare-data": {"shmpipe_core"},
    "preprocess-data": {"shmpipe_core", "shmpipe_preprocess"},
    "train-data": {"shmpipe_core", "shmpipe_train"},
    "test-data": {"shmpipe_core", "shmpipe_evaluate"},
}


# image -> the console script its entrypoint runs
COMMANDS = {
    "prepare-data": "prepare-data",
    "preprocess-data": "preprocess",
    "train-data": "train",
    "test-data": "evaluate",
}


def image(name: str) -> str:
    return f"{REGISTRY}/{name}:{TAG}"


def unavailable(reason: str):
    if os.environ.get("SHMPIPE_CI") == "1":
        pytest.fail(f"{reason}; in CI (SHMPIPE_CI=1) the container tests must run")
    pytest.skip(reason)


def world_writable(path: Path) -> Path:
    # The containers run as uid 1000; the directory belongs to whoever runs pytest.
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path
