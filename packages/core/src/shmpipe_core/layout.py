"""Where a run's files lie under the data dir, spelled once: steps, stores, commands and the
runner take their paths from a RunLayout, and tests hold the workflows' paths to it."""

import re
from dataclasses import dataclass
from pathlib import Path

from .dataset import check_run_id
from .files import refuse_links

RUNS = "runs"
SPLITS = "splits"
MANIFEST = "manifest.json"
MODEL = "model.json"
METRICS = "metrics.json"
MSE = "mse"  # the number alone, as Python's repr, for readers that take a file as a value
STEPS = "steps"
# A partitioned run's small per-partition results (placement, moments, squared errors), and each
# partition's split in a folder of its own.
PARTS = "parts"
PARTITION = "part-{}"
_PARTITION = re.compile(PARTITION.format(r"\d+"))
# Two locks: a split's writers and cleanup take the first; one pipeline holds the second.
SPLITS_LOCK = ".splits.lock"
PIPELINE_LOCK = ".pipeline.lock"


def is_partition(name: str) -> bool:
    """Whether `name` is a partition's folder (NAS) or name part (vineyard): `part-<k>`."""
    return bool(_PARTITION.fullmatch(name))


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / RUNS


@dataclass(frozen=True)
class RunLayout:
    """A run's paths; built once per command, it refuses a symbolic link on the way to any of
    them (nothing is written or deleted through a link) and a run id that is not one."""

    data_dir: Path
    run_id: str

    def __post_init__(self):
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        check_run_id(self.run_id)
        for path in (self.splits, self.steps, self.parts):
            refuse_links(self.data_dir, path)

    @property
    def dir(self) -> Path:
        return runs_dir(self.data_dir) / self.run_id

    @property
    def splits(self) -> Path:
        return self.dir / SPLITS

    @property
    def manifest(self) -> Path:
        return self.splits / MANIFEST

    def split_dir(self, partition: int | None = None) -> Path:
        """The NAS split: `splits/`, or a partition's `part-<k>/splits/` (its own lock beside)."""
        if partition is None:
            return self.splits
        return self.dir / PARTITION.format(partition) / SPLITS

    @property
    def parts(self) -> Path:
        return self.dir / PARTS

    def part(self, step: str, partition: int) -> Path:
        """What `step` wrote for one partition: preprocess its placement, train its moments,
        evaluate its squared errors."""
        return self.parts / f"{step}-{partition}.json"

    @property
    def model(self) -> Path:
        return self.dir / MODEL

    @property
    def metrics(self) -> Path:
        return self.dir / METRICS

    @property
    def mse(self) -> Path:
        return self.dir / MSE

    @property
    def steps(self) -> Path:
        return self.dir / STEPS

    def step_record(self, step: str) -> Path:
        return self.steps / f"{step}.json"

    @property
    def splits_lock(self) -> Path:
        return self.dir / SPLITS_LOCK

    @property
    def pipeline_lock(self) -> Path:
        return self.dir / PIPELINE_LOCK
