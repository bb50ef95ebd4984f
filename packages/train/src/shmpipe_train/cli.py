"""`train`: fit LinearRegression on the train split; save the model as an artifact."""

import argparse
import json
import sys

from shmpipe_core import faults, model_file
from shmpipe_core.cli import run, step_parser
from shmpipe_core.early_import import EarlyImport
from shmpipe_core.manifest import check_finite
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.private_copy import private_copy
from shmpipe_core.store import open_store


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        prog="train",
        description="Fit LinearRegression on X_train, y_train from the store.",
        store_flag="--source",
    )


def train(args) -> dict:
    metrics = StepMetrics.start("train", args.source, args.run_id)
    # scikit-learn imports beside the read (seconds of interpreter work against memory and
    # disk work); the step waits for what is left of it after the read.
    sklearn_import = EarlyImport("sklearn.linear_model")
    with metrics.phase("connect"):
        store = open_store(args.source, args.data_dir, args.vineyard_socket)
    with metrics.phase("load"):
        arrays, manifest = store.read(args.run_id, ["X_train", "y_train"])
    faults.point("train-after-load")
    X, y = arrays["X_train"], arrays["y_train"]
    metrics.count("X_train", X)
    metrics.count("y_train", y)
    with metrics.phase("private_copy"):
        # scikit-learn centres X in place, and copies any input that is read-only (it validates
        # with force_writeable): vineyard's shared X and y are copied here; NAS read them into
        # private memory already (nothing to do). The store's doing, so a phase of its own,
        # part of the handoff, not of compute.
        X_own, y_own = private_copy(X), private_copy(y)
    # What the store made train copy: the split's bytes for vineyard, 0 for NAS.
    metrics.bytes["private_copy"] = sum(
        own.nbytes for own, handed in ((X_own, X), (y_own, y)) if own is not handed
    )
    X, y = X_own, y_own
    with metrics.startup_wait():
        LinearRegression = sklearn_import.module().LinearRegression
        from sklearn import __version__ as sklearn_version  # imported with it: no wait
    with metrics.phase("compute"):
        # copy_X=False: X is ours to change, so scikit-learn centres it in place instead of
        # copying it first.
        try:
            model = LinearRegression(copy_X=False).fit(X, y)
        except ValueError:
            # scikit-learn refuses NaN and infinity in its input: say where they came from.
            check_finite({"X_train": X, "y_train": y}, args.run_id)
            raise
    # Zero-copy arrays can change under the fit (shared memory freed and reused): no model
    # of changed data is saved.
    store.verify_unchanged()
    # The record first, as preprocess: a step that fails (a full disk) publishes no model.
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        model_file.save(
            model_file.model_path(args.data_dir, args.run_id),
            "sklearn.linear_model.LinearRegression",
            model.coef_,
            model.intercept_,
            manifest["features"],
            manifest["commit"],
            sklearn_version=sklearn_version,
            train_rows=int(X.shape[0]),
        )
    return metrics.finish(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(train(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
