"""`prepare-data`: write the seed's synthetic housing table, bit for bit, to the shared volume."""

import json
import sys

from ..cli import Parser, add_data_dir, add_debug, add_multiplier, run
from ..synthetic import prepare


def build_parser() -> Parser:
    parser = Parser(
        prog="prepare-data",
        description="Write the synthetic housing table (10,000 x MULTIPLIER rows) as Arrow IPC.",
    )
    add_multiplier(parser)
    add_data_dir(parser)
    parser.add_argument("--force", action="store_true", help="rewrite it even if it exists")
    add_debug(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    def body(args):
        print(json.dumps(prepare(args.data_dir, args.multiplier, args.force)))

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
