"""`evaluate`: predict the test split with the trained model; write and print metrics.json, and
the MSE alone beside it (an Argo output parameter reads it)."""

import argparse
import json
import sys

import numpy as np
from shmpipe_core import faults, model_file, partitions
from shmpipe_core.cli import run, step_parser
from shmpipe_core.errors import StepError
from shmpipe_core.files import atomic_file, write_json
from shmpipe_core.layout import RunLayout
from shmpipe_core.manifest import check_finite
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.partitions import step_name
from shmpipe_core.stores import open_store


def build_parser() -> argparse.ArgumentParser:
    return step_parser(
        "evaluate",
        description="Mean squared error of the run's model on X_test, y_test from the store.",
    )


def _scored(args, store, paths: RunLayout, metrics: StepMetrics):
    """The model and the squared errors of its predictions on the store's test split."""
    with metrics.phase("load"):
        saved = model_file.load(paths.model)
    # Paged in at once by the store, rather than a fault per page inside predict.
    arrays, manifest = store.read(args.run_id, ["X_test", "y_test"], metrics, "resident")
    faults.point("evaluate-after-load")
    if manifest["features"] != saved["features"]:
        raise StepError("the model was trained on other features than this split has: rerun train")
    commits = partitions.split_commits(saved, args.partitions)
    trained_on = commits[args.partition] if commits else None
    if trained_on != manifest["commit"]:
        raise StepError(
            f"the model of run {args.run_id!r} was not trained on commit {manifest['commit']} of "
            f"{store.location(args.run_id)} (it records {saved['split_commit']}): preprocess has "
            "replaced the split since, or ran with other --partitions; rerun train, then evaluate"
        )
    X, y = arrays["X_test"], arrays["y_test"]
    with metrics.phase("compute"):
        try:
            squared = model_file.squared_errors(y, model_file.predict(saved, X))
            model_file.finite(float(squared.sum()))
        except StepError:
            check_finite({"X_test": X, "y_test": y}, args.run_id)  # the split's fault, if it is
            raise
    # As train: no metrics of arrays that changed under the computation.
    store.verify_unchanged()
    return saved, squared


def evaluate(args) -> dict:
    if args.merge:
        return merge(args)
    part = args.partition if args.partitions > 1 else None
    metrics = StepMetrics.start(step_name("evaluate", part), args.store, args.run_id)
    paths = RunLayout(args.data_dir, args.run_id)
    with metrics.phase("connect"):
        store = open_store(args.store, args.data_dir, args.vineyard_socket, partition=part)
    saved, squared = _scored(args, store, paths, metrics)
    if part is not None:
        metrics.finish(args.data_dir)
        with metrics.phase("save"):
            record = {"model": saved["split_commit"], "rows": squared.size}
            partitions.save(
                paths, "evaluate", part, args.partitions, {**record, "sse": float(squared.sum())}
            )
        return metrics.finish(args.data_dir)
    with metrics.phase("compute"):
        mse = float(np.average(squared))
    return _publish(args, paths, metrics, mse)


def merge(args) -> dict:
    """The partitions' squared errors summed: the MSE of the whole test split."""
    metrics = StepMetrics.start(step_name("evaluate", None, merge=True), args.store, args.run_id)
    paths = RunLayout(args.data_dir, args.run_id)
    with metrics.phase("load"):
        saved = model_file.load(paths.model)
        records = partitions.load_all(paths, "evaluate", args.partitions)
    if any(r.get("model") != saved["split_commit"] for r in records):
        raise StepError(
            f"some partitions of run {args.run_id!r} were scored with another model than "
            f"{paths.model}: rerun evaluate for every partition"
        )
    with metrics.phase("compute"):
        rows = sum(r["rows"] for r in records)
        mse = model_file.finite(sum(r["sse"] for r in records) / rows)
    metrics.rows["X_test"] = rows
    return _publish(args, paths, metrics, mse)


def _publish(args, paths: RunLayout, metrics: StepMetrics, mse: float) -> dict:
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
