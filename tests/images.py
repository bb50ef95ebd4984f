"""The images `make images` builds, named as the Docker-based tests look them up."""

import os

REGISTRY = os.environ.get("REGISTRY", "test-registry")
TAG = os.environ.get("TAG", "latest")
STEP_IMAGES = ("prepare-data", "preprocess-data", "train-data", "test-data")


def image(name: str) -> str:
    return f"{REGISTRY}/{name}:{TAG}"
