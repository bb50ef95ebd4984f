"""`preprocess`: drop outliers, split 80/20 as the seed does, write X/y train/test to the store."""

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from shmpipe_core import partitions, progress
from shmpipe_core.cli import run, step_parser
from shmpipe_core.dataset import FEATURES, OUTLIER_ABOVE, OUTLIER_COLUMN, SEED, TARGET
from shmpipe_core.errors import StepError
from shmpipe_core.layout import RunLayout
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.partitions import node_name, row_range, step_name, within
from shmpipe_core.raw import RawTable
from shmpipe_core.stores import open_store

from .gather import gather_column
from .split import row_type, split_in_table_order, split_sizes


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        "preprocess",
        description="Split the raw table into X_train, X_test, y_train, y_test in the store.",
    )


def preprocess(args) -> dict:
    partitioned = args.partitions > 1
    part = args.partition if partitioned else None
    metrics = StepMetrics.start(step_name("preprocess", part), args.store, args.run_id)
    with metrics.phase("load"):
        raw = RawTable(args.data_dir, args.multiplier)
        outlier = raw.column(OUTLIER_COLUMN)
        kept = np.flatnonzero(outlier <= OUTLIER_ABOVE).astype(row_type(raw.num_rows))
        raw.release(outlier)
    if min(split_sizes(len(kept))) == 0:
        # scikit-learn's train_test_split refuses it too ("the resulting train set will be
        # empty"); an empty split committed here would fail only in train, unexplained.
        raise StepError(
            f"raw data {raw.path} keeps {len(kept)} row(s) once houses with {OUTLIER_COLUMN} "
            f"above {OUTLIER_ABOVE} are dropped: the 80/20 split needs at least 2 (one to train "
            "on, one to test); rerun prepare-data with --force, or fix the raw table"
        )
    if args.partitions > raw.num_rows:
        raise StepError(
            f"--partitions {args.partitions} is more than the table's {raw.num_rows} rows: give "
            "fewer partitions"
        )
    with metrics.phase("connect"):
        store = open_store(
            args.store, args.data_dir, args.vineyard_socket, start=True, partition=part
        )
    metrics.bytes["raw"] = raw.nbytes
    with metrics.phase("compute"):
        # The one-partition run's split, then this partition's rows of it: the rows that go to
        # train and to test do not depend on the number of partitions.
        train_rows, test_rows = split_in_table_order(kept, SEED)
        del kept
        rows = row_range(raw.num_rows, args.partitions, args.partition)
        # Copies, so the whole run's row numbers are freed before the split is allocated.
        train_rows, test_rows = (within(r, *rows).copy() for r in (train_rows, test_rows))
    # Column-major: each raw column lands in one contiguous stretch of the matrix.
    shapes = {
        "X_train": ((len(train_rows), len(FEATURES)), "F"),
        "X_test": ((len(test_rows), len(FEATURES)), "F"),
        "y_train": ((len(train_rows),), "C"),
        "y_test": ((len(test_rows),), "C"),
    }
    with store.writer(args.run_id, FEATURES, metrics) as split:
        out = split.allocate_all(shapes)
        with metrics.phase("compute"):
            fill(raw, out, train_rows, test_rows)
        # The record before the commit: a step that fails publishes nothing.
        metrics.finish(args.data_dir)
    # Where the partition now lives: the workflows send its train and evaluate there.
    placement = {
        "node": node_name(),
        "store": store.location(args.run_id),
        "raw_rows": list(rows),
        "train_rows": len(train_rows),
        "test_rows": len(test_rows),
        "commit": split.manifest["commit"],
    }
    partitions.save(
        RunLayout(args.data_dir, args.run_id),
        "preprocess",
        args.partition,
        args.partitions,
        placement,
    )
    return metrics.finish(args.data_dir)


def fill(raw: RawTable, out: dict, train_rows: np.ndarray, test_rows: np.ndarray) -> None:
    """Each raw column into its train and test destinations, one column per core (numpy lets go
    of the GIL while it takes and converts)."""
    destinations = [
        (name, out["X_train"][:, j], out["X_test"][:, j]) for j, name in enumerate(FEATURES)
    ] + [(TARGET, out["y_train"], out["y_test"])]

    def one(destination):
        name, train_out, test_out = destination
        column = raw.column(name)
        gather_column(column, train_rows, train_out)
        gather_column(column, test_rows, test_out)
        raw.release(column)
        bar.update()

    with (
        progress.bar(len(destinations), "preprocess: gather", "column") as bar,
        ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool,
    ):
        list(pool.map(one, destinations))


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(preprocess(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
