"""`evaluate`: predict the test split with the trained model; write and print metrics.json.

Beside metrics.json it writes `mse`: the number alone, as Python's repr (the shortest text that
reads back as the same float), for readers that take a file's text as a value, such as an Argo
output parameter.
"""

import argparse
import json
import sys

from shmpipe_core import faults, model_file
from shmpipe_core.cli import run, step_parser
from shmpipe_core.errors import StepError
from shmpipe_core.files import atomic_file, write_json
from shmpipe_core.manifest import check_finite
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.pages import populate_for_read
from shmpipe_core.store import open_store


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        prog="evaluate",
        description="Mean squared error of the run's model on X_test, y_test from the store.",
        store_flag="--source",
    )


def evaluate(args) -> dict:
    metrics = StepMetrics.start("evaluate", args.source, args.run_id)
    with metrics.phase("connect"):
        store = open_store(args.source, args.data_dir, args.vineyard_socket)
    with metrics.phase("load"):
        saved = model_file.load(model_file.model_path(args.data_dir, args.run_id))
        arrays, manifest = store.read(args.run_id, ["X_test", "y_test"])
    faults.point("evaluate-after-load")
    if manifest["features"] != saved["features"]:
        raise StepError("the model was trained on other features than this split has: rerun train")
    if saved["split_commit"] != manifest["commit"]:
        raise StepError(
            f"the model of run {args.run_id!r} was trained on commit {saved['split_commit']} of "
            f"the split, which preprocess has since replaced by commit {manifest['commit']}: rerun "
            "train, then evaluate"
        )
    X, y = arrays["X_test"], arrays["y_test"]
    metrics.count("X_test", X)
    metrics.count("y_test", y)
    with metrics.phase("page_in"):
        # vineyard hands over a mapping: map its pages in one call here rather than one fault
        # per page inside predict. NAS arrays are resident already (nothing to do). The store's
        # doing, so it is its own phase, part of the handoff, and compute is the same work for
        # both stores.
        populate_for_read(X)
        populate_for_read(y)
    with metrics.phase("compute"):
        try:
            mse = model_file.mean_squared_error(y, model_file.predict(saved, X))
        except StepError:
            check_finite({"X_test": X, "y_test": y}, args.run_id)  # the split's fault, if it is
            raise
    # As train: no metrics of arrays that changed under the computation.
    store.verify_unchanged()
    result = {
        "mse": mse,
        "run_id": args.run_id,
        "store": args.source,
        "rows": metrics.rows,
        "phases": metrics.phases,
    }
    # The record first, as preprocess: a step that fails (a full disk) publishes no metrics.
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        path = model_file.metrics_path(args.data_dir, args.run_id)
        # mse first: metrics.json, the result, is published only once mse holds its number.
        with atomic_file(path.with_name("mse"), "w") as f:
            f.write(f"{mse!r}\n")
        write_json(path, result)
    metrics.finish(args.data_dir)
    return result


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(evaluate(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
