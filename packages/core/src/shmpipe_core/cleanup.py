"""`cleanup`: delete a run's intermediates (vineyard objects, NAS split files), keep its model
and metrics.

The workflows run it in their `onExit` handler, so shared memory does not fill up run after run.
"""

import argparse
import json
import sys

from .cli import Parser, add_data_dir, add_debug, add_run_id, run
from .store import STORES, open_store


def build_parser() -> argparse.ArgumentParser:
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


def cleanup(data_dir, run_id: str, store: str = "all", vineyard_socket: str | None = None):
    from .vineyard_connect import resolve

    deleted = {}
    if store in ("nas", "all"):
        deleted["nas"] = open_store("nas", data_dir).delete(run_id)
    # With "all", only a configured vineyard is cleaned: cleanup never starts a daemon to find
    # that it is empty.
    if store == "vineyard" or (store == "all" and _vineyard_reachable(vineyard_socket, resolve)):
        deleted["vineyard"] = open_store("vineyard", data_dir, vineyard_socket).delete(run_id)
    return deleted


def _vineyard_reachable(socket, resolve) -> bool:
    from . import embedded
    from .vineyard_connect import try_connect

    endpoint = resolve(socket)
    path = endpoint.socket if endpoint else str(embedded.socket_path())
    client = try_connect(path)
    if client is None:
        return endpoint is not None  # configured but down: let open_store report it
    client.close()
    return True


def main(argv: list[str] | None = None) -> int:
    def body(args):
        deleted = cleanup(args.data_dir, args.run_id, args.store, args.vineyard_socket)
        print(json.dumps({"run_id": args.run_id, "deleted": deleted}))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
