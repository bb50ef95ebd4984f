"""Running the pipeline locally: prepare the data if needed, then preprocess, train and evaluate,
each in its own process (as the workflow's pods run), then delete the run's split as the
workflows' exit handler does."""

import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core import run_hold
from shmpipe_core.dataset import raw_path
from shmpipe_core.errors import StepError
from shmpipe_core.progress import ENV as PROGRESS_ENV
from shmpipe_core.runs import delete_intermediates
from shmpipe_core.sizes import human
from shmpipe_core.step_contract import STEPS, step_args
from shmpipe_core.vineyard import Vineyard

from .steps import SignalForwarding, StepRun, last_json, run_step


@dataclass(frozen=True)
class RunSpec:
    """One run of the pipeline: which store, how much data, where, under which id."""

    store: str
    multiplier: int
    data_dir: Path
    run_id: str
    vineyard_socket: str | None = None
    env: dict | None = None  # the steps' environment (default: this process's)
    # step -> its executable (default: the console script beside this interpreter)
    commands: dict[str, str] | None = None

    def step_args(self, step: str) -> list[str]:
        args = step_args(step, self.store, str(self.data_dir), self.run_id, str(self.multiplier))
        if self.vineyard_socket:
            args += ["--vineyard-socket", self.vineyard_socket]
        return args


class Report:
    """What the runner says while it runs, on stderr: a line as each step starts and ends, and
    with `progress` the steps' own progress bars. `quiet` says nothing."""

    def __init__(self, stream=None, quiet: bool = False, progress: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.progress = progress and not quiet

    def line(self, text: str) -> None:
        if not self.quiet:
            print(f"pipeline: {text}", file=self.stream, flush=True)

    def started(self, name: str) -> None:
        self.line(f"{name} started")

    def finished(self, name: str, seconds: float, returncode: int = 0) -> None:
        if returncode == 0:
            self.line(f"{name} done in {seconds:.2f}s")
        else:
            self.line(f"{name} failed in {seconds:.2f}s (exit {returncode})")

    def echo(self):
        """Where a step's stderr goes as it comes: this stream, when bars are shown."""
        return self.stream.buffer if self.progress and hasattr(self.stream, "buffer") else None

    def env(self, env: dict | None) -> dict | None:
        """The steps' environment: bars on or off as here (their stderr is a pipe, not a tty)."""
        return {**(env if env is not None else os.environ), PROGRESS_ENV: str(int(self.progress))}


SILENT = Report(quiet=True)


def _run(
    name: str,
    args: list[str],
    env: dict | None,
    report: Report,
    signals: SignalForwarding | None,
    executable: str | None = None,
) -> StepRun:
    if signals is not None:
        signals.check()
    report.started(name)
    step = run_step(
        name, args, report.env(env), echo=report.echo(), signals=signals, executable=executable
    )
    if signals is not None:
        signals.check(name)
    report.finished(name, step.seconds, step.returncode)
    return _check(step)


def prepare_raw(
    data_dir: Path,
    multiplier: int,
    env: dict | None = None,
    report: Report = SILENT,
    signals: SignalForwarding | None = None,
) -> StepRun | None:
    """Write the raw table unless it exists (prepare-data runs once, before any timed step)."""
    if raw_path(data_dir, multiplier).exists():
        return None
    args = ["--multiplier", str(multiplier), "--data-dir", str(data_dir)]
    return _run("prepare-data", args, env, report, signals)


def run_steps(
    spec: RunSpec,
    before_step: Callable[[str], None] | None = None,
    report: Report = SILENT,
    signals: SignalForwarding | None = None,
) -> list[StepRun]:
    """preprocess, train, evaluate, each its own process; `before_step(name)` runs untimed
    before each (the benchmark evicts the NAS files there, so reads are cold)."""
    steps = []
    for step in STEPS:
        if before_step is not None:
            before_step(step)
        executable = (spec.commands or {}).get(step)
        steps.append(_run(step, spec.step_args(step), spec.env, report, signals, executable))
    return steps


def _row(name: str, seconds: float, peak_rss_bytes: int | None = None) -> dict:
    return {"name": name, "seconds": round(seconds, 3), "peak_rss_bytes": peak_rss_bytes}


def _start_vineyard(spec: RunSpec, report: Report) -> dict | None:
    """Start the embedded vineyardd if the run needs it and none answers; its row, if started."""
    if spec.store != "vineyard" or spec.vineyard_socket is not None:
        return None
    vineyard = Vineyard()
    if vineyard.configured or vineyard.up():
        vineyard.ensure()  # in a cluster, or already running: nothing to time
        return None
    # Before the clock of the steps runs: in a cluster the store is already there.
    report.started("vineyardd")
    start = time.perf_counter()
    vineyard.ensure()
    seconds = time.perf_counter() - start
    report.finished("vineyardd", seconds)
    return _row("vineyardd", seconds)


def cleanup(spec: RunSpec, report: Report, failed: bool = False) -> dict[str, list[str]] | None:
    """Delete the run's split, keeping its model and metrics (the workflows' exit handler).

    Never starts a daemon: a vineyard that does not answer holds nothing of this run to delete.
    After a failed run the failure is the one thing said: a cleanup that fails then is silent.
    """
    try:
        if spec.store == "vineyard" and not Vineyard(spec.vineyard_socket).up():
            return {}
        return delete_intermediates(spec.data_dir, spec.run_id, spec.store, spec.vineyard_socket)
    except StepError as e:
        if not failed:
            # The run's own outcome matters more; this says how to finish the cleanup by hand.
            report.line(f"could not delete the split ({e}); run `cleanup --run-id {spec.run_id}`")
        return None


def embedded_vineyard_line(spec: RunSpec) -> str | None:
    """One line saying the embedded vineyardd outlives the run, what it holds, how to stop it."""
    if spec.store != "vineyard" or spec.vineyard_socket is not None:
        return None
    state = Vineyard().status()
    if not state.get("running"):
        return None
    return (
        f"the embedded vineyardd is still running ({human(state['memory_usage'])} of "
        f"{human(state['memory_limit'])} in use, socket {state['socket']}); "
        "stop it with `vineyard-local stop`"
    )


def run_pipeline(spec: RunSpec, report: Report = SILENT, keep: bool = False) -> dict:
    """The whole run. The split is deleted at the end, success or failure, unless `keep`;
    SIGINT and SIGTERM reach the running step, which is waited for (steps.SignalForwarding).
    The run id is held from after prepare-data (shared by every run) to the end of the cleanup."""
    rows = []
    begun: list[str] = []  # the steps begun: only preprocess makes a split to delete
    failed = True
    with SignalForwarding() as signals, ExitStack() as held:
        try:
            prepared = prepare_raw(spec.data_dir, spec.multiplier, spec.env, report, signals)
            if prepared is not None:
                rows.append(_row(prepared.name, prepared.seconds, prepared.peak_rss_bytes))
            held.enter_context(run_hold.held(spec.data_dir, spec.run_id))
            started = _start_vineyard(spec, report)
            signals.check()
            if started is not None:
                rows.append(started)
            steps = run_steps(spec, begun.append, report=report, signals=signals)
            failed = False
        finally:
            deleted = None if keep or not begun else cleanup(spec, report, failed)
    metrics = last_json(steps[-1].stdout)
    return {
        "mse": metrics["mse"],
        "sink": spec.store,
        "multiplier": spec.multiplier,
        "run_id": spec.run_id,
        "steps": [_row(s.name, s.seconds, s.peak_rss_bytes) for s in steps],
        "setup": rows,
        "deleted": deleted,
    }


def _check(step: StepRun) -> StepRun:
    if step.returncode != 0:
        message = step.stderr.strip().splitlines()[-1] if step.stderr.strip() else ""
        raise StepError(f"step {step.name} failed (exit {step.returncode}): {message}")
    return step
