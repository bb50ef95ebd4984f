"""`pipeline`: run preprocess -> train -> evaluate locally and report each step like `argo get`."""

import json
import sys
import time

from shmpipe_core.cli import Parser, add_data_dir, add_debug, add_multiplier, run
from shmpipe_core.dataset import check_run_id
from shmpipe_core.store import STORES

from .runner import RunSpec, run_pipeline


def build_parser() -> Parser:
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
        run_id = check_run_id(args.run_id or time.strftime("run-%Y%m%d-%H%M%S"))
        spec = RunSpec(args.sink, args.multiplier, args.data_dir, run_id, args.vineyard_socket)
        result = run_pipeline(spec)
        print(json.dumps(result) if args.json else table(result))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
