"""`cleanup`: delete a run's intermediates (vineyard objects, NAS split files), keep its model
and metrics.

The workflows run it in their `onExit` handler, so shared memory does not fill up run after run.
"""

import json
import sys

from ..cli import Parser, add_data_dir, add_debug, add_run_id, run
from ..runs import delete_intermediates
from ..store import STORES


def build_parser() -> Parser:
    parser = Parser(
        prog="cleanup", description="Delete a run's intermediate data; keep its model and metrics."
    )
    add_run_id(parser)
    add_data_dir(parser)
    parser.add_argument(
        "--store",
        choices=(*STORES, "all"),
        default="all",
        help="which intermediates to delete (default: all; vineyard is skipped when none is "
        "configured)",
    )
    parser.add_argument("--vineyard-socket", default=None, help="vineyard IPC socket")
    add_debug(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    def body(args):
        deleted = delete_intermediates(args.data_dir, args.run_id, args.store, args.vineyard_socket)
        print(json.dumps({"run_id": args.run_id, "deleted": deleted}))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
