"""`preprocess`: drop outliers, split 80/20 as the seed does, write X/y train/test to the store."""

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from shmpipe_core import progress
from shmpipe_core.cli import add_multiplier, run, step_parser
from shmpipe_core.dataset import FEATURES, OUTLIER_ABOVE, OUTLIER_COLUMN, SEED, TARGET
from shmpipe_core.errors import StepError
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.raw import RawTable
from shmpipe_core.store import open_store

from .gather import gather_column
from .split import split_in_table_order, split_sizes


def build_parser() -> argparse.ArgumentParser:
    parser = step_parser(
        prog="preprocess",
        description="Split the raw table into X_train, X_test, y_train, y_test in the store.",
        store_flag="--sink",
    )
    add_multiplier(parser)
    return parser


def preprocess(args) -> dict:
    metrics = StepMetrics.start("preprocess", args.sink, args.run_id)
    with metrics.phase("load"):
        raw = RawTable(args.data_dir, args.multiplier)
        outlier = raw.column(OUTLIER_COLUMN)
        kept = np.flatnonzero(outlier <= OUTLIER_ABOVE)
        raw.release(outlier)
    if min(split_sizes(len(kept))) == 0:
        # scikit-learn's train_test_split refuses it too ("the resulting train set will be
        # empty"); an empty split committed here would fail only in train, unexplained.
        raise StepError(
            f"raw data {raw.path} keeps {len(kept)} row(s) once houses with {OUTLIER_COLUMN} "
            f"above {OUTLIER_ABOVE} are dropped: the 80/20 split needs at least 2 (one to train "
            "on, one to test); rerun prepare-data with --force, or fix the raw table"
        )
    with metrics.phase("connect"):
        store = open_store(args.sink, args.data_dir, args.vineyard_socket, start=True)
    metrics.bytes["raw"] = raw.nbytes
    with metrics.phase("compute"):
        train_rows, test_rows = split_in_table_order(kept, SEED)
        del kept
    writer = store.writer(args.run_id)
    try:
        # The store's destination memory (shared memory for vineyard, private for NAS), faulted
        # in: the store's doing, so its own phase, part of the handoff, not of compute. Not on
        # a thread beside the permutation: for NAS's fresh private memory the fault-in slowed
        # the permutation by as much as it overlapped, and the store's cost would have been
        # booked as compute (bench/README.md).
        with metrics.phase("allocate"):
            # Column-major: each raw column lands in one contiguous stretch of the matrix, which
            # is also the layout LAPACK, under LinearRegression, works in.
            out = {
                "X_train": writer.allocate("X_train", (len(train_rows), len(FEATURES)), "F"),
                "X_test": writer.allocate("X_test", (len(test_rows), len(FEATURES)), "F"),
                "y_train": writer.allocate("y_train", (len(train_rows),)),
                "y_test": writer.allocate("y_test", (len(test_rows),)),
            }
            writer.fault_in()
        with metrics.phase("compute"):
            destinations = [
                (name, out["X_train"][:, j], out["X_test"][:, j]) for j, name in enumerate(FEATURES)
            ] + [(TARGET, out["y_train"], out["y_test"])]

            def fill(destination):
                name, train_out, test_out = destination
                column = raw.column(name)
                gather_column(column, train_rows, train_out)
                gather_column(column, test_rows, test_out)
                raw.release(column)
                bar.update()

            # Columns are independent and numpy lets go of the GIL while it takes and
            # converts: one column per core.
            with (
                progress.bar(len(destinations), "preprocess: gather", "column") as bar,
                ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool,
            ):
                list(pool.map(fill, destinations))
    except BaseException:
        writer.abort()
        raise
    for name, array in out.items():
        metrics.count(name, array)
    try:
        # Written once before the commit too: a step that fails publishes nothing, and this
        # is the write after the commit that could fail (a data dir that cannot be written).
        metrics.finish(args.data_dir)
    except BaseException:
        writer.abort()
        raise
    with metrics.phase("save"):
        writer.commit(list(FEATURES))
    return metrics.finish(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(preprocess(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
