"""Running a step as its own process, as a pod would, and measuring what the pod would pay."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core.layout import RunLayout
from shmpipe_core.metrics import maxrss_bytes

FORWARDED = (signal.SIGINT, signal.SIGTERM)


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
    stage: str = ""  # the step this process is of (its name, unless one of several)


class Interrupted(Exception):
    """SIGINT or SIGTERM stopped the run; the step that was running got the signal too and has
    exited. The exit code is the shell's for that signal (130, 143)."""

    def __init__(self, signum: int, step: str | None):
        self.signum = signum
        self.exit_code = 128 + signum
        where = f"; step {step} stopped" if step else ""
        super().__init__(f"interrupted by {signal.Signals(signum).name}{where}")


class SignalForwarding:
    """While active, SIGINT and SIGTERM go to the running step instead of ending this process.

    Dying at once would orphan the step: it would go on and write its artifacts after the runner
    had reported the run as interrupted. So the signal is passed on, the step is waited for, and
    `check()` then raises Interrupted. The step is signalled through a pidfd, so a pid reused after
    the step was reaped is never hit. SIGCONT follows the signal, as a shell's `kill` does for a
    stopped job: a stopped step would otherwise never act on it.
    """

    def __init__(self):
        self.received: int | None = None
        self._pidfds: dict[str, int] = {}  # the running steps (several: a partitioned run)
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in FORWARDED}
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        self.received = self.received or signum
        for pidfd in list(self._pidfds.values()):
            for sig in (signum, signal.SIGCONT):
                try:
                    signal.pidfd_send_signal(pidfd, sig)
                except (ProcessLookupError, OSError):
                    break

    def running(self, name: str, pid: int | None) -> None:
        """Step `name` runs as `pid`, or (None) has ended."""
        pidfd = self._pidfds.pop(name, None)
        if pidfd is not None:
            os.close(pidfd)
        if pid is not None:
            self._pidfds[name] = os.pidfd_open(pid)

    def check(self, step: str | None = None) -> None:
        if self.received is not None:
            raise Interrupted(self.received, step)


def command(name: str) -> str:
    """The console script installed beside this interpreter (the workspace's environment)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _collect(pipe, chunks: list[bytes], echo) -> None:
    # Raw chunks, not lines: a progress bar redraws itself with '\r' and no newline.
    for chunk in iter(lambda: os.read(pipe.fileno(), 65536), b""):
        chunks.append(chunk)
        if echo is not None:
            echo.write(chunk)
            echo.flush()


def run_step(
    name: str,
    args: list[str],
    env: dict | None = None,
    *,
    echo=None,
    signals: SignalForwarding | None = None,
    executable: str | None = None,
) -> StepRun:
    """Run one step; wall time is process start to exit, memory the kernel's peak RSS for it.

    `echo` (a binary stream) gets the step's stderr as it comes, for its progress bars; `signals`
    forwards SIGINT and SIGTERM to it while it runs; `executable` replaces the console script
    `name` beside this interpreter.
    """
    chunks: list[bytes] = []
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        # Its own process group: a Ctrl-C at the terminal reaches the runner only, which passes
        # it on once; the step does not get it twice.
        process = subprocess.Popen(
            [executable or command(name), *args],
            stdout=out,
            stderr=subprocess.PIPE,
            env=env,
            process_group=0 if signals is not None else None,
        )
        reader = threading.Thread(target=_collect, args=(process.stderr, chunks, echo))
        reader.start()
        if signals is not None:
            signals.running(name, process.pid)
        try:
            # wait4, not Popen.wait: it also returns the child's resource usage (peak RSS).
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if signals is not None:
                signals.running(name, None)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        # A process the step left behind could hold the pipe open; its output is not the step's.
        reader.join(timeout=5)
        process.stderr.close()
        out.seek(0)
        return StepRun(
            name,
            seconds,
            maxrss_bytes(usage),
            process.returncode,
            out.read(),
            b"".join(chunks).decode(errors="replace"),
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
    return json.loads(RunLayout(data_dir, run_id).step_record(step).read_text())
