"""`vineyard-local`: start, stop or inspect the embedded local vineyardd."""

import json
import sys

from ..cli import Parser, run
from ..errors import StepError, UsageError
from ..sizes import check_size, human, parse_size
from ..vineyard import embedded


def build_parser() -> Parser:
    parser = Parser(
        prog="vineyard-local", description="Start, stop or inspect the embedded local vineyardd."
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument(
        "--size",
        help=f"shared memory size, e.g. 8Gi (default: ${embedded.SIZE_ENV} or 3/4 of /dev/shm)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _refuse_another_size(size: str | None) -> None:
    """A running daemon keeps its size: say so rather than ignore --size."""
    wanted = None if size is None else parse_size(size)
    if wanted is None:
        return
    state = embedded.status()
    if state["running"] and state["memory_limit"] != wanted:
        raise StepError(
            f"the embedded vineyardd already runs with {human(state['memory_limit'])}, not "
            f"{human(wanted)}: run `vineyard-local stop` first (its objects are lost), then "
            f"`vineyard-local start --size {size}`"
        )


def main(argv: list[str] | None = None) -> int:
    def body(args):
        if args.action == "start":
            if args.size is not None:
                check_size(args.size, "--size", UsageError)
            _refuse_another_size(args.size)
            print(embedded.ensure_running(args.size))
        elif args.action == "stop":
            print("stopped" if embedded.stop() else "not running")
        else:
            print(json.dumps(embedded.status()))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
