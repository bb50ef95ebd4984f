"""Running a step as its own process, as a pod would, and measuring what the pod would pay."""

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core.dataset import run_dir


@dataclass
class StepRun:
    name: str
    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str
    # Where the wall time went, from the kernel: CPU in user and kernel mode (page faults show up
    # as system time), and page faults (major ones read from disk).
    user_s: float = 0.0
    system_s: float = 0.0
    minor_faults: int = 0
    major_faults: int = 0


def command(name: str) -> str:
    """The console script installed beside this interpreter (the workspace's environment)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def run_step(name: str, args: list[str], env: dict | None = None) -> StepRun:
    """Run one step; wall time is process start to exit, memory the kernel's peak RSS for it."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen([command(name), *args], stdout=out, stderr=err, env=env)
        # wait4, not Popen.wait: it also returns the child's resource usage (peak RSS).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return StepRun(
            name,
            seconds,
            usage.ru_maxrss * 1024,
            process.returncode,
            out.read(),
            err.read(),
            user_s=usage.ru_utime,
            system_s=usage.ru_stime,
            minor_faults=usage.ru_minflt,
            major_faults=usage.ru_majflt,
        )


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            continue
    return {}


def read_step_record(data_dir: Path, run_id: str, step: str) -> dict:
    """What the step measured about itself (shmpipe_core.metrics.StepMetrics.finish wrote it)."""
    return json.loads((run_dir(data_dir, run_id) / "steps" / f"{step}.json").read_text())
