"""The seed's preprocess: the raw table as a DataFrame, outliers dropped, split 80/20, written as
four pickles or four vineyard objects.

The seed reads its raw table with `pd.read_pickle`; here the raw table is the pipeline's own Arrow
file, read with pyarrow and converted with `Table.to_pandas()` (the one conversion: the same
46 int64 columns, in the same order, with a default RangeIndex, as the seed's pickled frame).
The split takes `random_state` = the project's seed, so it holds the same rows as ours (the seed's
script leaves it unset, so its MSE changes from run to run).
"""

import json
import sys

import pandas as pd  # noqa: F401  (imported as the seed's step does: part of its start-up)
import pyarrow as pa
import vineyard
from shmpipe_core.cli import add_multiplier, run
from shmpipe_core.dataset import OUTLIER_ABOVE, OUTLIER_COLUMN, SEED, TARGET, raw_path
from shmpipe_core.errors import StepError
from shmpipe_core.metrics import StepMetrics
from sklearn.model_selection import train_test_split

from .common import frame_bytes, object_name, parser, pickle_path, seed_dir


def read_raw_frame(data_dir, multiplier: int):
    path = raw_path(data_dir, multiplier)
    if not path.exists():
        raise StepError(
            f"raw data {path} does not exist: run `prepare-data --multiplier {multiplier} "
            f"--data-dir {data_dir}` first"
        )
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all().to_pandas()


def preprocess(args) -> dict:
    metrics = StepMetrics.start("preprocess", args.store, args.run_id)
    with metrics.phase("load"):
        df = read_raw_frame(args.data_dir, args.multiplier)
    metrics.bytes["raw"] = frame_bytes(df)
    with metrics.phase("compute"):
        df = df.drop(df[(df[OUTLIER_COLUMN] > OUTLIER_ABOVE)].index)
        X = df.drop(TARGET, axis=1)
        y = df[TARGET]
        del df
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)
        del X, y
    frames = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
    for name, frame in frames.items():
        metrics.rows[name] = len(frame)
        metrics.bytes[name] = frame_bytes(frame)
    if args.store == "vineyard":
        with metrics.phase("connect"):
            client = vineyard.connect()  # VINEYARD_IPC_SOCKET, as Fluid's mount provides
    with metrics.phase("save"):
        if args.store == "vineyard":
            # One client for the four puts, as the seed's preprocess_data does (`client.put`);
            # the module-level `vineyard.put` would connect anew for each.
            for name, frame in frames.items():
                client.put(frame, persist=True, name=object_name(args.run_id, name))
        else:
            seed_dir(args.data_dir, args.run_id).mkdir(parents=True, exist_ok=True)
            for name, frame in frames.items():
                frame.to_pickle(pickle_path(args.data_dir, args.run_id, name))
    return metrics.finish(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    p = parser("seed-preprocess", "The seed's preprocess (benchmark only).")
    add_multiplier(p)
    return run(p, lambda args: print(json.dumps(preprocess(args))), argv)


if __name__ == "__main__":
    sys.exit(main())
