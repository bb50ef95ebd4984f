"""`evaluate`: predict the test split with the trained model; write and print metrics.json, and
the MSE alone beside it (an Argo output parameter reads it)."""

import argparse
import json
import sys

from shmpipe_core import faults, model_file
from shmpipe_core.cli import run, step_parser
from shmpipe_core.errors import StepError
from shmpipe_core.files import atomic_file, write_json
from shmpipe_core.layout import RunLayout
from shmpipe_core.manifest import check_finite
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.stores import open_store


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        "evaluate",
        description="Mean squared error of the run's model on X_test, y_test from the store.",
    )


def evaluate(args) -> dict:
    metrics = StepMetrics.start("evaluate", args.store, args.run_id)
    paths = RunLayout(args.data_dir, args.run_id)
    with metrics.phase("connect"):
        store = open_store(args.store, args.data_dir, args.vineyard_socket)
    with metrics.phase("load"):
        saved = model_file.load(paths.model)
    # Paged in at once by the store, rather than a fault per page inside predict.
    arrays, manifest = store.read(args.run_id, ["X_test", "y_test"], metrics, "resident")
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
        "store": args.store,
        "rows": metrics.rows,
        "phases": metrics.phases,
    }
    # The record first, as preprocess: a step that fails (a full disk) publishes no metrics.
    metrics.finish(args.data_dir)
    with metrics.phase("save"):
        # mse first: metrics.json, the result, is published only once mse holds its number.
        with atomic_file(paths.mse, "w") as f:
            f.write(f"{mse!r}\n")
        write_json(paths.metrics, result)
    metrics.finish(args.data_dir)
    return result


def main(argv: list[str] | None = None) -> int:
    return run(build_parser(), lambda args: print(json.dumps(evaluate(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
