"""What the container tests and their fixtures share."""

from pathlib import Path

# image -> the workspace packages it must carry (and no other step's)
IMAGE_PACKAGES = {
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


def world_writable(path: Path) -> Path:
    # The containers run as uid 1000; the directory belongs to whoever runs pytest.
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path
