"""`runs`: list the runs in the data dir and in vineyard: id, store, size, age, model, metrics."""

import json
import sys

from ..cli import Parser, add_data_dir, add_debug, run
from ..runs import list_runs
from ..sizes import human


def build_parser() -> Parser:
    parser = Parser(
        prog="runs",
        description="List the runs in the data dir and in vineyard (the configured one, or the "
        "embedded ones that run).",
    )
    add_data_dir(parser)
    parser.add_argument("--vineyard-socket", default=None, help="vineyard IPC socket")
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    add_debug(parser)
    return parser


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}"
    return f"{seconds:.0f}s"


def table(runs) -> str:
    lines = [f"{'RUN':<36} {'STORE':<13} {'SIZE':>10} {'AGE':>5}  MODEL  METRICS"]
    for r in runs:
        lines.append(
            f"{r.run_id:<36} {','.join(r.stores) or '-':<13} {human(r.bytes):>10} "
            f"{_age(r.age_s()):>5}  {'yes' if r.model else 'no':<5}  {'yes' if r.metrics else 'no'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    def body(args):
        notes: list[str] = []
        found = list_runs(args.data_dir, args.vineyard_socket, notes)
        for note in notes:
            print(f"runs: note: {note}", file=sys.stderr)
        if args.json:
            for r in found:
                print(json.dumps(r.as_dict()))
        else:
            print(table(found))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
