"""Running the pipeline locally: prepare the data if needed, then preprocess, train and evaluate,
each in its own process (as the workflow's pods run)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core.dataset import raw_path
from shmpipe_core.errors import StepError
from shmpipe_core.vineyard_connect import connect

from .steps import StepRun, last_json, run_step

STEPS = ("preprocess", "train", "evaluate")


@dataclass(frozen=True)
class RunSpec:
    """One run of the pipeline: which store, how much data, where, under which id."""

    store: str
    multiplier: int
    data_dir: Path
    run_id: str
    vineyard_socket: str | None = None
    env: dict | None = None  # the steps' environment (default: this process's)

    def step_args(self, step: str) -> list[str]:
        store_flag = "--sink" if step == "preprocess" else "--source"
        args = [store_flag, self.store, "--data-dir", str(self.data_dir), "--run-id", self.run_id]
        if step == "preprocess":
            args += ["--multiplier", str(self.multiplier)]
        if self.vineyard_socket:
            args += ["--vineyard-socket", self.vineyard_socket]
        return args


def prepare_raw(data_dir: Path, multiplier: int, env: dict | None = None) -> StepRun | None:
    """Write the raw table unless it exists (prepare-data runs once, before any timed step)."""
    if raw_path(data_dir, multiplier).exists():
        return None
    args = ["--multiplier", str(multiplier), "--data-dir", str(data_dir)]
    return _check(run_step("prepare-data", args, env))


def ensure_vineyard(cli_socket: str | None = None) -> str:
    """Start (or find) the configured or embedded store; its socket. In a cluster it is there."""
    client, endpoint = connect(cli_socket)
    client.close()
    return endpoint.socket


def run_steps(spec: RunSpec, before_step: Callable[[str], None] | None = None) -> list[StepRun]:
    """preprocess, train, evaluate, each its own process; `before_step(name)` runs untimed
    before each (the benchmark evicts the NAS files there, so reads are cold)."""
    steps = []
    for step in STEPS:
        if before_step is not None:
            before_step(step)
        steps.append(_check(run_step(step, spec.step_args(step), spec.env)))
    return steps


def run_pipeline(spec: RunSpec) -> dict:
    prepare_raw(spec.data_dir, spec.multiplier, spec.env)
    if spec.store == "vineyard" and spec.vineyard_socket is None:
        # Start (or find) the store before the clock runs: in a cluster it is already there.
        ensure_vineyard()
    steps = run_steps(spec)
    metrics = last_json(steps[-1].stdout)
    return {
        "mse": metrics["mse"],
        "sink": spec.store,
        "multiplier": spec.multiplier,
        "run_id": spec.run_id,
        "steps": [
            {"name": s.name, "seconds": round(s.seconds, 3), "peak_rss_bytes": s.peak_rss_bytes}
            for s in steps
        ],
    }


def _check(step: StepRun) -> StepRun:
    if step.returncode != 0:
        message = step.stderr.strip().splitlines()[-1] if step.stderr.strip() else ""
        raise StepError(f"step {step.name} failed (exit {step.returncode}): {message}")
    return step
