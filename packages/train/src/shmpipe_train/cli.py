"""`train`: fit ordinary least squares with intercept on the train split, read in place; save the
model as an artifact (a scikit-learn LinearRegression once loaded)."""

import argparse
import json
import sys

from shmpipe_core import faults, lstsq, model_file, partitions
from shmpipe_core.cli import run, step_parser
from shmpipe_core.errors import StepError
from shmpipe_core.layout import RunLayout
from shmpipe_core.manifest import check_finite
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.partitions import step_name
from shmpipe_core.stores import open_store

ESTIMATOR = "sklearn.linear_model.LinearRegression"
SOLVER = "normal equations, Cholesky"
NAMES = ["X_train", "y_train"]


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        "train",
        description="Fit LinearRegression on X_train, y_train from the store.",
    )


def sklearn_fit(store, arrays: dict, metrics: StepMetrics):
    """scikit-learn's fit (SVD-based lstsq), for what the normal equations cannot hold: it
    centres X in place, so it gets the split as writable copies."""
    own = store.writable(arrays, metrics)
    X_own, y_own = own["X_train"], own["y_train"]
    from sklearn import __version__
    from sklearn.linear_model import LinearRegression

    with metrics.phase("compute"):
        model = LinearRegression(copy_X=False).fit(X_own, y_own)
    return model.coef_, float(model.intercept_), {"sklearn_version": __version__}


def train(args) -> dict:
    if args.merge:
        return merge(args)
    if args.partitions > 1:
        return train_partition(args)
    metrics = StepMetrics.start("train", args.store, args.run_id)
    with metrics.phase("connect"):
        store = open_store(args.store, args.data_dir, args.vineyard_socket)
    arrays, manifest = store.read(args.run_id, NAMES, metrics)
    faults.point("train-after-load")
    X, y = arrays["X_train"], arrays["y_train"]
    try:
        coef, intercept = lstsq.solve(lstsq.moments(X, y, metrics))
        extra = {"solver": SOLVER}
    except lstsq.IllConditioned as e:
        # Arrays changed under the fit, or NaN and infinity in them, are the split's fault:
        # said before anything is copied.
        store.verify_unchanged()
        check_finite({"X_train": X, "y_train": y}, args.run_id)
        metrics.notes["fallback"] = str(e)
        coef, intercept, extra = sklearn_fit(store, arrays, metrics)
        extra["solver"] = f"scikit-learn lstsq ({e})"
    metrics.notes["solver"] = extra["solver"]
    # Zero-copy arrays can change under the fit (shared memory freed and reused): no model
    # of changed data is saved.
    store.verify_unchanged()
    # The record first, as preprocess: a step that fails (a full disk) publishes no model.
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        model_file.save(
            RunLayout(args.data_dir, args.run_id).model,
            ESTIMATOR,
            coef,
            intercept,
            manifest["features"],
            manifest["commit"],
            train_rows=int(X.shape[0]),
            **extra,
        )
    return metrics.finish(args.data_dir)


def train_partition(args) -> dict:
    """One partition's moments, from its arrays in place, for the merge."""
    metrics = StepMetrics.start(step_name("train", args.partition), args.store, args.run_id)
    with metrics.phase("connect"):
        store = open_store(
            args.store, args.data_dir, args.vineyard_socket, partition=args.partition
        )
    arrays, manifest = store.read(args.run_id, NAMES, metrics)
    faults.point("train-after-load")
    moments = lstsq.moments(arrays["X_train"], arrays["y_train"], metrics)
    store.verify_unchanged()
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        partitions.save(
            RunLayout(args.data_dir, args.run_id),
            "train",
            args.partition,
            args.partitions,
            {
                "commit": manifest["commit"],
                "features": manifest["features"],
                **partitions.moments_record(moments),
            },
        )
    return metrics.finish(args.data_dir)


def merge(args) -> dict:
    """The partitions' moments merged in partition order, solved: the model of the whole split."""
    metrics = StepMetrics.start(step_name("train", None, merge=True), args.store, args.run_id)
    layout = RunLayout(args.data_dir, args.run_id)
    with metrics.phase("load"):
        records = partitions.load_all(layout, "train", args.partitions)
        placed = partitions.load_all(layout, "preprocess", args.partitions)
    features = records[0]["features"]
    if any(r["features"] != features for r in records):
        raise StepError(
            f"the partitions of run {args.run_id!r} hold different features: rerun preprocess "
            "and train for every partition"
        )
    with metrics.phase("compute"):
        total = lstsq.Moments.empty(len(features) + 1)
        for p, record in enumerate(records):
            total = total.merge(partitions.moments_of(record, layout.part("train", p)))
        try:
            coef, intercept = lstsq.solve(total)
        except lstsq.IllConditioned as e:
            raise StepError(
                f"the partitions' normal equations cannot be solved to full precision ({e}); "
                "scikit-learn's solver needs the whole split in one process: rerun with "
                "--partitions 1"
            ) from None
    metrics.rows["X_train"] = total.rows
    metrics.notes["solver"] = SOLVER
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        model_file.save(
            layout.model,
            ESTIMATOR,
            coef,
            intercept,
            features,
            partitions.COMMIT_SEPARATOR.join(r["commit"] for r in records),
            train_rows=total.rows,
            partitions=args.partitions,
            # The one record of the whole run's partitions: where each lived, its rows.
            placement=[
                {k: p[k] for k in ("partition", "node", "store", "raw_rows")} for p in placed
            ],
            solver=SOLVER,
        )
    return metrics.finish(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(train(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
