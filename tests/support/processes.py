"""The real console scripts, run as their own processes (as a pod runs a step)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent


def run_cli(name: str, *args, env: dict | None = None, check: bool = True, timeout: float = 300):
    """Run a command to its end; fail the test on a non-zero exit unless `check=False`."""
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


def start_step(name: str, *args, env: dict | None = None) -> subprocess.Popen:
    """Start a command without waiting for it; its output piped."""
    return subprocess.Popen(
        [str(BIN / name), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def stopped_at(point: str, name: str, *args, env: dict | None = None) -> subprocess.Popen:
    """Start a step and return once it has stopped itself at the fault point `point`."""
    process = start_step(name, *args, env={**(env or {}), "SHMPIPE_FAULT_STOP": point})
    deadline = time.monotonic() + 60
    while psutil.Process(process.pid).status() != psutil.STATUS_STOPPED:
        if process.poll() is not None:
            raise AssertionError(f"{name} ended before {point}: {process.communicate()}")
        assert time.monotonic() < deadline, f"{name} never reached {point}"
        time.sleep(0.01)
    return process


def kill_at(point: str, name: str, *args) -> None:
    """Run a step until it stops itself at the fault point `point`, then SIGKILL it there."""
    process = stopped_at(point, name, *args)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def last_json(text: str) -> dict:
    """The JSON object a command prints as its last line."""
    return json.loads(text.strip().splitlines()[-1])


def assert_one_line_error(result, code: int, *words: str) -> None:
    """A command failed as the project promises: exit `code`, one `error:` line holding `words`,
    no traceback."""
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and "error:" in lines[0], result.stderr
    for word in words:
        assert word in lines[-1]
