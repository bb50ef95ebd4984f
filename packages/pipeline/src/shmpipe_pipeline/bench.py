"""`pipeline-bench`: NAS against vineyard, side by side (being written)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("pipeline-bench: not written yet", file=sys.stderr)
    return 1
