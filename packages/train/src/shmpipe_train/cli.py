"""`train`: fit ordinary least squares with intercept on the train split, read in place; save the
model as an artifact (a scikit-learn LinearRegression once loaded)."""

import argparse
import json
import sys

from shmpipe_core import faults, lstsq, model_file
from shmpipe_core.cli import run, step_parser
from shmpipe_core.manifest import check_finite
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.private_copy import private_copy
from shmpipe_core.store import open_store

ESTIMATOR = "sklearn.linear_model.LinearRegression"


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        prog="train",
        description="Fit LinearRegression on X_train, y_train from the store.",
        store_flag="--source",
    )


def sklearn_fit(X, y, metrics: StepMetrics):
    """scikit-learn's fit (SVD-based lstsq), for what the normal equations cannot hold: it
    centres X in place, so it gets a private copy."""
    with metrics.phase("private_copy"):
        X_own, y_own = private_copy(X), private_copy(y)
    metrics.bytes["private_copy"] = sum(
        own.nbytes for own, handed in ((X_own, X), (y_own, y)) if own is not handed
    )
    from sklearn import __version__
    from sklearn.linear_model import LinearRegression

    with metrics.phase("compute"):
        model = LinearRegression(copy_X=False).fit(X_own, y_own)
    return model.coef_, float(model.intercept_), {"sklearn_version": __version__}


def train(args) -> dict:
    metrics = StepMetrics.start("train", args.source, args.run_id)
    with metrics.phase("connect"):
        store = open_store(args.source, args.data_dir, args.vineyard_socket)
    with metrics.phase("load"):
        arrays, manifest = store.read(args.run_id, ["X_train", "y_train"])
    faults.point("train-after-load")
    X, y = arrays["X_train"], arrays["y_train"]
    metrics.count("X_train", X)
    metrics.count("y_train", y)
    try:
        coef, intercept = lstsq.solve(lstsq.moments(X, y, metrics))
        extra = {"solver": "normal equations, Cholesky"}
    except lstsq.IllConditioned as e:
        # NaN or infinity is the split's fault: said before anything is copied.
        check_finite({"X_train": X, "y_train": y}, args.run_id)
        metrics.notes["fallback"] = str(e)
        coef, intercept, extra = sklearn_fit(X, y, metrics)
        extra["solver"] = f"scikit-learn lstsq ({e})"
    metrics.notes["solver"] = extra["solver"]
    # Zero-copy arrays can change under the fit (shared memory freed and reused): no model
    # of changed data is saved.
    store.verify_unchanged()
    # The record first, as preprocess: a step that fails (a full disk) publishes no model.
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        model_file.save(
            model_file.model_path(args.data_dir, args.run_id),
            ESTIMATOR,
            coef,
            intercept,
            manifest["features"],
            manifest["commit"],
            train_rows=int(X.shape[0]),
            **extra,
        )
    return metrics.finish(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(train(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
