"""The seed's synthetic housing table, generated bit for bit and written to the shared volume."""

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import progress, raw
from .dataset import COLUMN_NAMES, COLUMNS, ROWS_PER_MULTIPLIER, SEED, raw_path
from .errors import StepError
from .sizes import human


def draws(multiplier: int) -> Iterator[tuple[str, np.ndarray]]:
    """The seed's table, one (name, values) column at a time: one generator, seed 42, columns
    drawn whole and in file order."""
    rows = ROWS_PER_MULTIPLIER * multiplier
    rng = np.random.default_rng(SEED)
    with progress.bar(len(COLUMNS), "prepare-data: generate", "column") as bar:
        for c in COLUMNS:
            yield c.name, rng.integers(c.low, c.high_exclusive, size=rows, dtype=np.int64)
            bar.update()


def generate(multiplier: int) -> dict[str, np.ndarray]:
    """The whole table in memory (for tests and small multipliers; `prepare` never holds it)."""
    return dict(draws(multiplier))


def prepare(data_dir: Path, multiplier: int, force: bool = False) -> dict:
    """Write the raw table unless it exists (or `force`); what was done."""
    path = raw_path(data_dir, multiplier)
    if path.exists() and not force:
        return {"path": str(path), "rows": multiplier * ROWS_PER_MULTIPLIER, "written": False}
    nbytes = multiplier * ROWS_PER_MULTIPLIER * len(COLUMN_NAMES) * 8
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(path.parent).free
    except OSError as e:
        raise StepError(
            f"cannot create {path.parent} ({e.strerror}): choose a writable --data-dir"
        ) from None
    if free < nbytes * 1.05:
        raise StepError(
            f"{path.parent} has {human(free)} free, the table needs {human(nbytes)}: free "
            "space or pick a smaller --multiplier"
        )
    start = time.perf_counter()
    try:
        raw.write(path, multiplier * ROWS_PER_MULTIPLIER, draws(multiplier))
    except OSError as e:
        raise StepError(
            f"cannot write {path} ({e.strerror}): choose a writable --data-dir"
        ) from None
    return {
        "path": str(path),
        "rows": multiplier * ROWS_PER_MULTIPLIER,
        "bytes": path.stat().st_size,
        "seconds": round(time.perf_counter() - start, 3),
        "written": True,
    }
