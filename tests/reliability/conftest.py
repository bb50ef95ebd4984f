"""Fixtures for the reliability tests: private vineyardd instances and step processes."""

import itertools
import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.helpers import BIN, start_vineyardd

_count = itertools.count()


@pytest.fixture
def vineyardd(short_tmp):
    """Start private vineyardd instances: `vineyardd(size="64Mi")` -> (socket, process)."""
    started = []

    def start(size: str = "512Mi"):
        directory = short_tmp / f"vy{next(_count)}"
        process = start_vineyardd(directory, size=size)
        started.append(process)
        return str(directory / "vineyard.sock"), process

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=30)


def memory_usage(socket: str) -> int:
    """What vineyardd itself reports as used, from the instance status."""
    from shmpipe_core.vineyard_connect import try_connect

    client = try_connect(socket)
    try:
        return client.status.memory_usage
    finally:
        client.close()


def names(socket: str, pattern: str = "*") -> dict:
    from shmpipe_core.vineyard_connect import try_connect

    client = try_connect(socket)
    try:
        return {str(k): v for k, v in client.list_names(pattern, limit=1 << 20).items()}
    finally:
        client.close()


def start_step(name: str, *args, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / name), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def kill_at(point: str, name: str, *args) -> None:
    """Run a step until it stops itself at the fault point `point`, then SIGKILL it there."""
    process = start_step(name, *args, env={"SHMPIPE_FAULT_STOP": point})
    deadline = time.monotonic() + 60
    while psutil.Process(process.pid).status() != psutil.STATUS_STOPPED:
        if process.poll() is not None:
            raise AssertionError(f"{name} ended before {point}: {process.communicate()}")
        assert time.monotonic() < deadline, f"{name} never reached {point}"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])
