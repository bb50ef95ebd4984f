"""The step images as packages/steps.tsv lists them, named as `make images` tags them."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = os.environ.get("REGISTRY", "test-registry")
TAG = os.environ.get("TAG", "latest")


def _rows() -> list[dict]:
    lines = (ROOT / "packages" / "steps.tsv").read_text().splitlines()
    fields = ("image", "distribution", "package_dir", "module", "command")
    return [dict(zip(fields, line.split(), strict=True)) for line in lines if line[:1] not in "#"]


STEPS = _rows()
STEP_IMAGES = tuple(row["image"] for row in STEPS)
# image -> the console script its entrypoint runs
COMMANDS = {row["image"]: row["command"] for row in STEPS}
# image -> the workspace packages it must carry (and no other step's): its own and the core
IMAGE_PACKAGES = {row["image"]: {"shmpipe_core", row["module"]} for row in STEPS}


def image(name: str) -> str:
    return f"{REGISTRY}/{name}:{TAG}"
