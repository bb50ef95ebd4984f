"""Fixtures for the reliability tests: private vineyardd instances and step processes."""

import itertools
import subprocess

import pytest

from tests.support.vineyard import start_vineyardd

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
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Seen once under load: a vineyardd slow to exit on SIGTERM. Teardown is not what
            # the test holds, so it is killed rather than failing it.
            process.kill()
            process.wait()
