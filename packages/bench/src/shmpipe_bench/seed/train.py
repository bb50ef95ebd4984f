"""The seed's train: the train split as DataFrames, `LinearRegression().fit`, `joblib.dump`."""

import json
import os
import sys

import joblib
import pandas as pd
import vineyard
from shmpipe_core.cli import run
from shmpipe_core.metrics import StepMetrics
from sklearn.linear_model import LinearRegression

from .common import model_path, object_name, page_in, parser, pickle_path


def load_frames(args, client, names: list[str]) -> list:
    """The seed's load: `client.get(name=..., fetch=True)` on the step's one client, or
    `read_pickle` and then deleting the file, as the seed's NAS steps do."""
    if args.store == "vineyard":
        return [client.get(name=object_name(args.run_id, n), fetch=True) for n in names]
    frames = []
    for n in names:
        path = pickle_path(args.data_dir, args.run_id, n)
        frames.append(pd.read_pickle(path))
        os.remove(path)
    return frames


def train(args) -> dict:
    metrics = StepMetrics.start("train", args.store, args.run_id)
    client = None
    if args.store == "vineyard":
        with metrics.phase("connect"):
            client = vineyard.connect()
    with metrics.phase("load"):
        X_train, y_train = load_frames(args, client, ["X_train", "y_train"])
    with metrics.phase("page_in"):
        page_in(X_train)
        page_in(y_train)
    with metrics.phase("compute"):
        model = LinearRegression().fit(X_train, y_train)
    with metrics.phase("save"):
        path = model_path(args.data_dir, args.run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, path)
    metrics.rows["X_train"] = len(X_train)
    return metrics.finish(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    p = parser("seed-train", "The seed's train (benchmark only).")
    return run(p, lambda args: print(json.dumps(train(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
