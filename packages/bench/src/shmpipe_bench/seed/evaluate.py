"""The seed's test step: the test split as DataFrames, the joblib model, predict, MSE."""

import json
import sys

import joblib
import pandas as pd  # noqa: F401  (imported as the seed's step does: part of its start-up)
import vineyard
from shmpipe_core.cli import run
from shmpipe_core.files import write_json
from shmpipe_core.layout import RunLayout
from shmpipe_core.metrics import StepMetrics
from sklearn.metrics import mean_squared_error

from .common import model_path, page_in, parser
from .train import load_frames


def evaluate(args) -> dict:
    metrics = StepMetrics.start("evaluate", args.store, args.run_id)
    client = None
    if args.store == "vineyard":
        with metrics.phase("connect"):
            client = vineyard.connect()
    with metrics.phase("load"):
        X_test, y_test = load_frames(args, client, ["X_test", "y_test"])
        model = joblib.load(model_path(args.data_dir, args.run_id))
    with metrics.phase("page_in"):
        page_in(X_test)
        page_in(y_test)
    with metrics.phase("compute"):
        mse = float(mean_squared_error(y_test, model.predict(X_test)))
    result = {"mse": mse, "run_id": args.run_id, "store": args.store, "phases": metrics.phases}
    with metrics.phase("save"):
        write_json(RunLayout(args.data_dir, args.run_id).metrics, result)
    metrics.rows["X_test"] = len(X_test)
    metrics.finish(args.data_dir)
    return result


def main(argv: list[str] | None = None) -> int:
    p = parser("seed-evaluate", "The seed's test step (benchmark only).")
    return run(p, lambda args: print(json.dumps(evaluate(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
