"""`cleanup`: delete a run's intermediates (vineyard objects, NAS split files), keep its model
and metrics; with --all, every run's (--older-than: only old ones).

The workflows run it in their `onExit` handler, so shared memory does not fill up run after run.
"""

import json
import sys

from ..cli import Parser, add_data_dir, add_debug, run
from ..errors import StepError, UsageError
from ..runs import clean, parse_age
from ..stores import STORES


def build_parser() -> Parser:
    parser = Parser(
        prog="cleanup",
        description="Delete the intermediate data of a run (--run-id) or of many (--all); keep "
        "their models and metrics.",
    )
    parser.add_argument("--run-id", default=None, help="the run to clean (no default)")
    parser.add_argument("--all", action="store_true", help="clean every run with a split")
    parser.add_argument(
        "--older-than",
        default=None,
        metavar="AGE",
        help="with --all: only runs last changed longer ago than AGE, e.g. 90m, 12h, 7d",
    )
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
        if args.all == (args.run_id is not None):
            raise UsageError("give either --run-id ID or --all (see `runs` for the run ids)")
        if args.older_than is not None and not args.all:
            raise UsageError("--older-than goes with --all")
        try:
            older = None if args.older_than is None else parse_age(args.older_than)
        except ValueError:
            raise UsageError(
                f"invalid --older-than {args.older_than!r}: give an age such as 90m, 12h or 7d"
            ) from None
        notes: list[str] = []
        run_ids = None if args.all else [args.run_id]
        deleted, skipped = clean(
            args.data_dir, run_ids, older, args.store, args.vineyard_socket, notes
        )
        if skipped and not args.all:
            raise StepError(
                f"run {args.run_id} was not cleaned: {skipped[args.run_id]}; clean it when it "
                "has ended"
            )
        for run_id, why in skipped.items():
            notes.append(f"skipped run {run_id}: {why}; clean it when it has ended")
        for note in notes:
            print(f"cleanup: note: {note}", file=sys.stderr)
        if args.all:
            print(json.dumps({"deleted": deleted, "skipped": skipped}))
        else:
            print(json.dumps({"run_id": args.run_id, "deleted": deleted.get(args.run_id, {})}))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
