"""The table of step images, packages/steps.tsv: one row per image (image, distribution, package
folder, module, console script), read by the benchmark, the KFP definitions and the tests (the
Makefile reads it with awk). It lives in a checkout, not in the images: callers pass its path."""

from pathlib import Path
from typing import NamedTuple


class StepImage(NamedTuple):
    image: str
    distribution: str
    package_dir: str
    module: str
    command: str


def read(path: Path) -> list[StepImage]:
    """The rows of the table at `path`, in order; `#` lines are comments."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != len(StepImage._fields):
            raise ValueError(f"{path}:{number}: {len(fields)} tab-separated fields, not 5")
        rows.append(StepImage(*fields))
    return rows
