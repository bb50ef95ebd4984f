"""Directories as the tests' processes and containers need them."""

import os
from pathlib import Path


def world_writable(path: Path) -> Path:
    # The containers run as uid 1000; the directory belongs to whoever runs pytest.
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


def data_dir_with_raw(raw_data_dir: Path, path: Path) -> Path:
    """A fresh data dir at `path` whose raw tables are hard links to the shared ones: each test
    gets its own runs/ without writing the table again."""
    (path / "raw").mkdir(parents=True)
    for f in (raw_data_dir / "raw").iterdir():
        os.link(f, path / "raw" / f.name)
    return path
