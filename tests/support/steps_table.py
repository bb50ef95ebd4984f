"""The step images as packages/steps.tsv lists them, named as `make images` tags them."""

import os
from pathlib import Path

from shmpipe_core import steps_table

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("REGISTRY", "test-registry")
TAG = os.environ.get("TAG", "latest")


STEPS = [row._asdict() for row in steps_table.read(ROOT / "packages" / "steps.tsv")]
STEP_IMAGES = tuple(row["image"] for row in STEPS)
# image -> the console script its entrypoint runs
COMMANDS = {row["image"]: row["command"] for row in STEPS}
# image -> the workspace packages it must carry (and no other step's): its own and the core
IMAGE_PACKAGES = {row["image"]: {"shmpipe_core", row["module"]} for row in STEPS}


def image(name: str) -> str:
    return f"{REGISTRY}/{name}:{TAG}"
