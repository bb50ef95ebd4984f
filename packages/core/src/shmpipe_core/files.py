"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

import json
import os
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path):
    """A temp path beside `path` to write; then it is fsynced and renamed over `path`.

    For writers that open files themselves, such as pyarrow's native `OSFile` (a Python file
    object wrapped in `pa.PythonFile` costs a copy of every buffer written through it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextmanager
def atomic_file(path: Path, mode: str = "wb"):
    """Write to a temp file beside `path`, fsync it, then rename it over `path`."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f


def write_json(path: Path, value) -> None:
    with atomic_file(path, "w") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
