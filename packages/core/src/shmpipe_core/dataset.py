"""The synthetic housing table: its columns, the split's features and target, run ids."""

import csv
import os
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from .errors import UsageError

ROWS_PER_MULTIPLIER = 10_000
SEED = 42
TARGET = "SalePrice"
# The seed drops outliers before splitting: houses above this living area.
OUTLIER_COLUMN = "GrLivArea"
OUTLIER_ABOVE = 4800
# 10,000 x 100,000 rows would be 368 GB: anything larger is a typo, not a benchmark.
MAX_MULTIPLIER = 100_000
SPLIT_NAMES = ("X_train", "X_test", "y_train", "y_test")
DATA_DIR_ENV = "SHMPIPE_DATA_DIR"


@dataclass(frozen=True)
class Column:
    name: str
    low: int
    high_exclusive: int


def _load_columns() -> tuple[Column, ...]:
    text = files(__package__).joinpath("housing_columns.csv").read_text()
    return tuple(
        Column(row["column"], int(row["low"]), int(row["high_exclusive"]))
        for row in csv.DictReader(text.splitlines())
    )


COLUMNS = _load_columns()
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
FEATURES = tuple(n for n in COLUMN_NAMES if n != TARGET)


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def raw_path(data_dir: Path, multiplier: int) -> Path:
    return Path(data_dir) / "raw" / f"housing-m{multiplier}.arrow"


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def is_run_id(name: str) -> bool:
    """Run ids name vineyard objects and directories, so they must be one safe path segment."""
    return bool(_RUN_ID.fullmatch(name)) and ".." not in name


def check_run_id(run_id: str) -> str:
    if not is_run_id(run_id):
        raise UsageError(
            f"invalid run id {run_id!r}: use letters, digits, '.', '_' and '-' "
            "(at most 128, starting with a letter or digit), e.g. the workflow name"
        )
    return run_id


def check_multiplier(value: str | int) -> int:
    try:
        multiplier = int(value)
        if str(value).strip() != str(multiplier):
            raise ValueError
    except ValueError:
        raise UsageError(
            f"invalid multiplier {value!r}: give a whole number of 10,000-row blocks, e.g. 1"
        ) from None
    if not 1 <= multiplier <= MAX_MULTIPLIER:
        raise UsageError(
            f"invalid multiplier {multiplier}: it must be between 1 and {MAX_MULTIPLIER:,} "
            f"(10,000 x {multiplier:,} rows)"
        )
    return multiplier
