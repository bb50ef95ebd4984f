"""`pipeline`: run preprocess -> train -> evaluate locally and report each step like `argo get`."""

import json
import sys

from shmpipe_core.cli import (
    Parser,
    add_data_dir,
    add_debug,
    add_multiplier,
    add_partitions,
    add_store,
    run,
)
from shmpipe_core.dataset import check_run_id
from shmpipe_core.layout import RunLayout
from shmpipe_core.runs import new_run_id
from shmpipe_core.sizes import human

from .runner import Report, RunSpec, embedded_vineyard_line, run_pipeline
from .steps import Interrupted


def build_parser() -> Parser:
    parser = Parser(
        prog="pipeline",
        description="Run preprocess -> train -> evaluate locally, one process each, then delete "
        "the run's split (model.json and metrics.json stay in <data-dir>/runs/<run-id>/).",
    )
    add_store(parser, "--sink", vineyard_socket=False)
    add_multiplier(parser)
    add_partitions(parser)
    add_data_dir(parser)
    parser.add_argument(
        "--run-id", default=None, help="default: a new id per run, run-<date>-<time>-<random>"
    )
    parser.add_argument("--vineyard-socket", default=None, help="vineyard IPC socket")
    parser.add_argument("--keep", action="store_true", help="keep the split for inspection")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quiet", action="store_true", help="no step lines or progress bars on stderr"
    )
    add_debug(parser)
    return parser


def _seconds(row: dict) -> str:
    peak = row.get("peak_rss_bytes")
    memory = f"{human(peak) if peak else '-':>15}"
    return f"{row['name']:<15}{row['seconds']:>9.2f}s{memory}"


def table(result: dict) -> str:
    lines = [f"{'STEP':<15}{'DURATION':>10}{'PEAK MEMORY':>15}"]
    lines += [_seconds(row) for row in result.get("setup", [])]
    lines += [_seconds(row) for row in result["steps"]]
    lines.append(f"{'total':<15}{result['seconds']:>9.2f}s  (the three steps)")
    partitions = f" partitions={result['partitions']}" if result["partitions"] > 1 else ""
    lines.append(
        f"sink={result['sink']} multiplier={result['multiplier']}{partitions} "
        f"run_id={result['run_id']} mse={result['mse']!r}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def body(args):
        run_id = check_run_id(args.run_id or new_run_id())
        spec = RunSpec(
            args.store,
            args.multiplier,
            args.data_dir,
            run_id,
            args.vineyard_socket,
            partitions=args.partitions,
        )
        report = Report(quiet=args.quiet, progress=sys.stderr.isatty())
        try:
            result = run_pipeline(spec, report, keep=args.keep)
        except Interrupted as e:
            # SystemExit passes through `run`: the exit code is the signal's, as a shell's.
            print(f"pipeline: {e}; run {run_id} not finished", file=sys.stderr, flush=True)
            raise SystemExit(e.exit_code) from None
        print(json.dumps(result) if args.json else table(result))
        report.line(f"model.json and metrics.json are in {RunLayout(spec.data_dir, run_id).dir}/")
        line = embedded_vineyard_line(spec)
        if line is not None:
            report.line(line)

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
