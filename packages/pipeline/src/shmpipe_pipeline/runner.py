"""Running the pipeline locally: prepare the data if needed, then preprocess, train and evaluate,
each in its own process (as the workflow's pods run), then delete the run's split as the
workflows' exit handler does."""

import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core import run_hold
from shmpipe_core.dataset import raw_path
from shmpipe_core.errors import StepError
from shmpipe_core.partitions import stage_of, step_name
from shmpipe_core.progress import ENV as PROGRESS_ENV
from shmpipe_core.runs import delete_intermediates
from shmpipe_core.sizes import human
from shmpipe_core.step_contract import MERGED, STEPS, merge_args, step_args
from shmpipe_core.vineyard import Vineyard, embedded

from .steps import SignalForwarding, StepRun, command, last_json, run_step


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
    partitions: int = 1

    def step_args(
        self, step: str, partition: int | None = None, socket: str | None = None
    ) -> list[str]:
        """A step's arguments: of the whole run, of one partition, or (`partition` None in a
        partitioned run) of its merge, which opens no store."""
        base = (self.store, str(self.data_dir), self.run_id)
        if self.partitions > 1 and partition is None:
            return [str(a) for a in merge_args(step, *base, self.partitions)]
        parts = (str(partition), str(self.partitions)) if self.partitions > 1 else ()
        args = step_args(step, *base, str(self.multiplier), *parts)
        socket = socket or self.vineyard_socket
        return [*args, "--vineyard-socket", socket] if socket else args

    def command(self, step: str) -> str | None:
        return (self.commands or {}).get(step)


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
    stage: str | None = None,
) -> StepRun:
    """Run one process of a step (`name`: the step, or, with `stage` the step, one partition's
    or merge's process of it, named as its record is)."""
    if signals is not None:
        signals.check()
    report.started(name)
    if stage is not None:
        executable = executable or command(stage)
    step = run_step(
        name, args, report.env(env), echo=report.echo(), signals=signals, executable=executable
    )
    step.stage = stage or name
    if signals is not None:
        signals.check(name)
    report.finished(name, step.seconds, step.returncode)
    return _check(step)


def _fan_out(step: str, calls: list[tuple[str, list[str]]], spec, report, signals) -> list:
    """The processes of one step at once, one per partition, as Argo fans a template out; all
    are waited for before a failure is raised."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [
            pool.submit(_run, name, args, spec.env, report, signals, spec.command(step), step)
            for name, args in calls
        ]
        wait(futures)
    return [f.result() for f in futures]


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
    sockets: list[str | None] | None = None,
) -> list[StepRun]:
    """preprocess, train, evaluate, each its own process (or, partitioned, one per partition,
    then train's and evaluate's merges); `before_step(name)` runs untimed before each (the
    benchmark evicts the NAS files there, so reads are cold). `sockets`: partition k's
    vineyard, where each has its own."""
    steps = []
    for step in STEPS:
        if before_step is not None:
            before_step(step)
        if spec.partitions == 1:
            args = spec.step_args(step)
            steps.append(_run(step, args, spec.env, report, signals, spec.command(step)))
            continue
        calls = [
            (step_name(step, k), spec.step_args(step, k, (sockets or [None] * spec.partitions)[k]))
            for k in range(spec.partitions)
        ]
        steps += _fan_out(step, calls, spec, report, signals)
        if step in MERGED:
            merged = _run(
                step_name(step, None, merge=True),
                spec.step_args(step),
                spec.env,
                report,
                signals,
                spec.command(step),
                step,
            )
            steps.append(merged)
    return steps


def wall_seconds(steps: list[StepRun]) -> float:
    """The steps' time end to end: the processes of one step run at once, so each step counts
    with its longest, then its merge."""
    longest: dict[str, float] = {}
    for s in steps:
        key = s.name if stage_of(s.name) is None else s.stage
        longest[key] = max(longest.get(key, 0.0), s.seconds)
    return sum(longest.values())


def _row(name: str, seconds: float, peak_rss_bytes: int | None = None) -> dict:
    return {"name": name, "seconds": round(seconds, 3), "peak_rss_bytes": peak_rss_bytes}


def _start_vineyard(spec: RunSpec, report: Report) -> tuple[dict | None, list[str | None]]:
    """Start the embedded vineyardd if the run needs it and none answers (one per partition:
    stand-ins for the nodes of a cluster); its row, if started, and each partition's socket
    (None: the one the steps find themselves)."""
    sockets: list[str | None] = [spec.vineyard_socket] * spec.partitions
    if spec.store != "vineyard" or spec.vineyard_socket is not None:
        return None, sockets
    vineyard = Vineyard()
    if vineyard.configured:
        vineyard.ensure()  # in a cluster: nothing to time, every partition on the one given
        return None, sockets
    nodes = range(spec.partitions)
    # Partition k on node k's embedded vineyardd; a one-partition run's steps find theirs.
    wanted = [str(embedded.socket_path(k)) for k in nodes] if spec.partitions > 1 else sockets
    if all(Vineyard(str(embedded.socket_path(k))).up() for k in nodes):
        return None, wanted
    # Before the clock of the steps runs: in a cluster the store is already there.
    report.started("vineyardd")
    start = time.perf_counter()
    for k in nodes:
        embedded.ensure_running(node=k)
    seconds = time.perf_counter() - start
    report.finished("vineyardd", seconds)
    return _row("vineyardd", seconds), wanted


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
    others = len(embedded.sockets()) - 1
    more = f", and {others} more for partitions" if others > 0 else ""
    return (
        f"the embedded vineyardd is still running ({human(state['memory_usage'])} of "
        f"{human(state['memory_limit'])} in use, socket {state['socket']}{more}); "
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
            started, sockets = _start_vineyard(spec, report)
            signals.check()
            if started is not None:
                rows.append(started)
            steps = run_steps(spec, begun.append, report, signals, sockets)
            failed = False
        finally:
            deleted = None if keep or not begun else cleanup(spec, report, failed)
    metrics = last_json(steps[-1].stdout)
    return {
        "mse": metrics["mse"],
        "sink": spec.store,
        "multiplier": spec.multiplier,
        "run_id": spec.run_id,
        "partitions": spec.partitions,
        "seconds": round(wall_seconds(steps), 3),
        "steps": [_row(s.name, s.seconds, s.peak_rss_bytes) for s in steps],
        "setup": rows,
        "deleted": deleted,
    }


def _check(step: StepRun) -> StepRun:
    if step.returncode != 0:
        message = step.stderr.strip().splitlines()[-1] if step.stderr.strip() else ""
        raise StepError(f"step {step.name} failed (exit {step.returncode}): {message}")
    return step
