"""Train's fit against scikit-learn's, on the same arrays the store handed over: the part of the
train gain that comes from the fit method, apart from the part that comes from the handoff.

Runs in a child process, like the memcpy floor, so the benchmark's own peak RSS stays small.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def measure(store_kind: str, data_dir: Path, run_id: str, socket: str | None) -> dict:
    from shmpipe_core import lstsq
    from shmpipe_core.private_copy import private_copy
    from shmpipe_core.stores import open_store
    from sklearn.linear_model import LinearRegression

    store = open_store(store_kind, data_dir, socket)
    arrays, _ = store.read(run_id, ["X_train", "y_train"])
    X, y = arrays["X_train"], arrays["y_train"]
    start = time.perf_counter()
    coef, intercept = lstsq.solve(lstsq.moments(X, y))
    kernel_s = time.perf_counter() - start
    start = time.perf_counter()
    X_own, y_own = private_copy(X), private_copy(y)
    copy_s = time.perf_counter() - start
    start = time.perf_counter()
    model = LinearRegression(copy_X=False).fit(X_own, y_own)
    sklearn_s = time.perf_counter() - start
    store.verify_unchanged()
    worst = np.max(np.abs(coef - model.coef_) / np.maximum(np.abs(model.coef_), 1e-300))
    return {
        "store": store_kind,
        "kernel_s": kernel_s,
        "sklearn_copy_s": copy_s,
        "sklearn_fit_s": sklearn_s,
        "coef_max_rel_diff": float(worst),
        "intercept_rel_diff": abs(intercept - model.intercept_) / abs(model.intercept_),
    }


def measure_in_child(store_kind: str, data_dir: Path, run_id: str, socket: str | None) -> dict:
    args = [sys.executable, "-m", __name__, store_kind, str(data_dir), run_id, socket or ""]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


if __name__ == "__main__":
    kind, data, run, sock = sys.argv[1:5]
    print(json.dumps(measure(kind, Path(data), run, sock or None)))
