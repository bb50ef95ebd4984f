"""Our steps as their images run them: each in an environment holding its image's packages only.

The workspace environment holds every step's packages and the benchmark's (pandas, for the seed's
method, among them). Run from there, our train would import pandas through scikit-learn (0.4 s of
its start on the project's 2-core VM) where its image, which leaves pandas out, does not. So each
of our steps runs from an environment synced as its image is: `uv sync --package <its
distribution>` with the packages the image leaves out left out, as the step Dockerfile names them
(the one place they are listed). The seed's steps keep the workspace environment: the seed's
images carry pandas, scikit-learn and the whole vineyard package.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from shmpipe_core import steps_table
from shmpipe_core.errors import StepError

WORKSPACE = Path(__file__).resolve().parents[4]
DOCKERFILE = WORKSPACE / "deploy" / "images" / "step.Dockerfile"
STEPS_TABLE = WORKSPACE / "packages" / "steps.tsv"
ENVS = WORKSPACE / ".bench" / "step-envs"


def left_out() -> list[str]:
    """The packages the step images leave out (`--no-install-package` in the Dockerfile)."""
    return re.findall(r"--no-install-package\s+([A-Za-z0-9._-]+)", DOCKERFILE.read_text())


def _steps() -> list[tuple[str, str, str]]:
    """(image, distribution, console script) of each step image, from packages/steps.tsv."""
    return [(row.image, row.distribution, row.command) for row in steps_table.read(STEPS_TABLE)]


def build() -> dict[str, str]:
    """Sync one environment per step image (quick once uv's cache holds the wheels); the console
    script of each step, by command name."""
    if not (DOCKERFILE.exists() and STEPS_TABLE.exists()):
        raise StepError(
            f"the benchmark runs from a checkout of this repository ({DOCKERFILE} is missing)"
        )
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        raise StepError("uv is not on PATH: run the benchmark with `make bench` or `uv run`")
    skip = [flag for name in left_out() for flag in ("--no-install-package", name)]
    commands = {}
    for image, distribution, command in _steps():
        target = ENVS / image
        sync = [uv, "sync", "--frozen", "--no-dev", "--package", distribution, *skip]
        done = subprocess.run(
            sync,
            cwd=WORKSPACE,
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(target)},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["no output"]
            raise StepError(f"could not build the {image} environment: {last[0]}")
        commands[command] = str(target / "bin" / command)
    return commands
