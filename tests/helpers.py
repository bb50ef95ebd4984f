"""Helpers for tests: run the real console scripts, start a real vineyardd, skip-or-fail."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
IN_CI = os.environ.get("SHMPIPE_CI") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip on a user's machine; in CI a missing prerequisite is a failure, never a skip."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI must provide this: {reason}")
        pytest.skip(reason)


def run_cli(name: str, *args, env: dict | None = None, check: bool = True, timeout: float = 300):
    merged = {**os.environ, **(env or {})}
    result = subprocess.run(
        [str(BIN / name), *map(str, args)],
        capture_output=True,
        text=True,
        env=merged,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{name} {args} failed ({result.returncode}):\n{result.stderr}")
    return result


def vineyardd_path() -> str:
    from shmpipe_core.embedded import vineyardd_binary

    return vineyardd_binary()


def start_vineyardd(directory: Path, size: str = "2Gi", extra: tuple = ()) -> subprocess.Popen:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    sock = directory / "vineyard.sock"
    process = subprocess.Popen(
        [
            vineyardd_path(),
            f"--socket={sock}",
            f"--size={size}",
            "--meta=local",
            "--rpc=false",
            *extra,
        ],
        stdout=open(directory / "vineyardd.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while not sock.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((directory / "vineyardd.log").read_text())
        time.sleep(0.05)
    time.sleep(0.2)
    return process
