"""`pipeline`: prepare the data if needed, run preprocess, train and evaluate each in its own
process (as the workflow's pods run), and report each step like `argo get` does."""

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from shmpipe_core.cli import Parser, add_data_dir, add_debug, add_multiplier, run
from shmpipe_core.dataset import check_run_id, raw_path
from shmpipe_core.errors import StepError
from shmpipe_core.store import STORES

from .steps import StepRun, last_json, run_step

STEPS = ("preprocess", "train", "evaluate")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pipeline",
        description="Run preprocess -> train -> evaluate locally, one process each.",
    )
    parser.add_argument("--sink", required=True, choices=STORES, help="how steps hand data over")
    add_multiplier(parser)
    add_data_dir(parser)
    parser.add_argument("--run-id", default=None, help="default: a new id per run")
    parser.add_argument("--vineyard-socket", default=None, help="vineyard IPC socket")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_debug(parser)
    return parser


def step_args(
    step: str, sink: str, multiplier: int, data_dir: Path, run_id: str, socket: str | None
) -> list[str]:
    store_flag = "--sink" if step == "preprocess" else "--source"
    args = [store_flag, sink, "--data-dir", str(data_dir), "--run-id", run_id]
    if step == "preprocess":
        args += ["--multiplier", str(multiplier)]
    if socket:
        args += ["--vineyard-socket", socket]
    return args


def prepare_raw(data_dir: Path, multiplier: int, env: dict | None = None) -> StepRun | None:
    """Write the raw table unless it exists (prepare-data runs once, before any timed step)."""
    if raw_path(data_dir, multiplier).exists():
        return None
    args = ["--multiplier", str(multiplier), "--data-dir", str(data_dir)]
    return _check(run_step("prepare-data", args, env))


def ensure_vineyard() -> str:
    """Start (or find) the configured or embedded store; its socket. In a cluster it is there."""
    from shmpipe_core.vineyard_connect import connect

    client, endpoint = connect(None)
    client.close()
    return endpoint.socket


def run_steps(
    sink: str,
    multiplier: int,
    data_dir: Path,
    run_id: str,
    socket: str | None = None,
    env: dict | None = None,
    before_step: Callable[[str], None] | None = None,
) -> list[StepRun]:
    """preprocess, train, evaluate, each its own process; `before_step(name)` runs untimed
    before each (the benchmark evicts the NAS files there, so reads are cold)."""
    steps = []
    for step in STEPS:
        if before_step is not None:
            before_step(step)
        steps.append(
            _check(run_step(step, step_args(step, sink, multiplier, data_dir, run_id, socket), env))
        )
    return steps


def run_pipeline(
    sink: str,
    multiplier: int,
    data_dir: Path,
    run_id: str,
    socket: str | None = None,
    env: dict | None = None,
) -> dict:
    prepare_raw(data_dir, multiplier, env)
    if sink == "vineyard" and socket is None:
        # Start (or find) the store before the clock runs: in a cluster it is already there.
        ensure_vineyard()
    steps = run_steps(sink, multiplier, data_dir, run_id, socket, env)
    metrics = last_json(steps[-1].stdout)
    return {
        "mse": metrics["mse"],
        "sink": sink,
        "multiplier": multiplier,
        "run_id": run_id,
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


def table(result: dict) -> str:
    lines = [f"{'STEP':<12}{'DURATION':>10}{'PEAK MEMORY':>14}"]
    for s in result["steps"]:
        lines.append(
            f"{s['name']:<12}{s['seconds']:>9.2f}s{s['peak_rss_bytes'] / 2**20:>11.0f} MiB"
        )
    total = sum(s["seconds"] for s in result["steps"])
    lines.append(f"{'total':<12}{total:>9.2f}s")
    lines.append(
        f"sink={result['sink']} multiplier={result['multiplier']} "
        f"run_id={result['run_id']} mse={result['mse']!r}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def body(args):
        run_id = args.run_id or time.strftime("run-%Y%m%d-%H%M%S")
        check_run_id(run_id)
        result = run_pipeline(
            args.sink, args.multiplier, args.data_dir, run_id, args.vineyard_socket
        )
        print(json.dumps(result) if args.json else table(result))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
