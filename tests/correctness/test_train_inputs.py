"""Train fits from the split where it lies (no copy, no scikit-learn) and falls back to
scikit-learn's fit, on a private copy, where the normal equations would lose digits."""

import json

import numpy as np
import pytest
from shmpipe_core.stores.nas import NasStore

from tests.support.processes import run_cli

FEATURES = ["a", "b", "c", "d"]


def _write_split(data_dir, run_id, X, y):
    writer = NasStore(data_dir).writer(run_id)
    writer.allocate("X_train", X.shape, "F")[...] = X
    writer.allocate("y_train", y.shape)[...] = y
    writer.commit(FEATURES[: X.shape[1]])


def _train(data_dir, run_id):
    out = run_cli("train", "--source", "nas", "--data-dir", data_dir, "--run-id", run_id)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    model = json.loads((data_dir / "runs" / run_id / "model.json").read_text())
    return record, model


def _sklearn(X, y):
    from sklearn.linear_model import LinearRegression

    fitted = LinearRegression().fit(X, y)
    return fitted.coef_, fitted.intercept_


@pytest.mark.parametrize("store", ["nas", "vineyard"])
def test_train_fits_in_place_without_scikit_learn(store, data_dir, vineyard_socket):
    where = ["--data-dir", data_dir, "--run-id", f"k-{store}", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", store, "--multiplier", 1, *where)
    # Fails if train imports scikit-learn or copies the split: sys.modules is checked after the
    # step, in its own process.
    code = (
        "import sys, json; from shmpipe_train.cli import main; main(sys.argv[1:]);"
        "print(json.dumps({'sklearn': 'sklearn' in sys.modules}))"
    )
    out = run_cli("python", "-c", code, "--source", store, *where)
    lines = out.stdout.strip().splitlines()
    record, probe = json.loads(lines[-2]), json.loads(lines[-1])
    assert probe == {"sklearn": False}
    assert record["notes"]["solver"] == "normal equations, Cholesky"
    assert "private_copy" not in record["phases"]
    # The split's pages are mapped, not copied: private memory stays below the split's size.
    assert record["peak_private_bytes"] < record["bytes"]["X_train"] + 64 << 20


def test_badly_scaled_columns_still_fit_in_place(tmp_path):
    # Scales from 1e-6 to 1e9: the Gram matrix's condition is huge, the scaled one's is not.
    # scikit-learn's SVD cuts singular values off relative to the largest, and so drops the
    # small-scale columns here: the reference is least squares on the scaled, centred columns.
    rng = np.random.default_rng(1)
    scale = np.array([1e-6, 1.0, 1e4, 1e9])
    X = rng.standard_normal((20_000, 4)) * scale
    y = X @ np.array([3e6, -2.0, 5e-4, 7e-9]) + 11.0 + rng.standard_normal(20_000)
    _write_split(tmp_path, "scaled", X, y)
    record, model = _train(tmp_path, "scaled")
    assert record["notes"]["solver"] == "normal equations, Cholesky"
    mean = X.mean(axis=0)
    z = np.linalg.lstsq((X - mean) / scale, y - y.mean(), rcond=None)[0]
    np.testing.assert_allclose(model["coef"], z / scale, rtol=1e-9)
    assert model["intercept"] == pytest.approx(y.mean() - mean @ (z / scale), rel=1e-9)


@pytest.mark.parametrize("case", ["collinear", "near-collinear-badly-scaled"])
def test_train_falls_back_to_scikit_learn_where_normal_equations_lose_digits(case, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5_000, 4))
    if case == "collinear":
        X[:, 3] = 2 * X[:, 0] - X[:, 1]
    else:
        X[:, 3] = (X[:, 0] + 1e-7 * rng.standard_normal(5_000)) * 1e8
    y = X @ np.array([1.0, 2.0, 3.0, 4e-8]) + rng.standard_normal(5_000)
    _write_split(tmp_path, case, X, y)
    record, model = _train(tmp_path, case)
    assert record["notes"]["solver"].startswith("scikit-learn")
    assert record["phases"]["private_copy"] > 0
    coef, intercept = _sklearn(X, y)
    np.testing.assert_allclose(model["coef"], coef, rtol=1e-9, atol=1e-12 * np.abs(coef).max())
    assert model["intercept"] == pytest.approx(intercept, rel=1e-9)
