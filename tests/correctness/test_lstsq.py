"""The least-squares kernel: scikit-learn's model on the seed's table, partial results that merge
exactly, and arrays it reads left as they were."""

import numpy as np
import pytest
from shmpipe_core import lstsq
from shmpipe_core.stores.nas import NasStore

from tests.support.processes import run_cli


def _mse(X, y, coef, intercept):
    return float(np.mean((y - (X @ coef + intercept)) ** 2))


def test_kernel_gives_scikit_learns_mse_on_the_seeds_table(data_dir):
    where = ["--data-dir", data_dir, "--run-id", "s"]
    run_cli("preprocess", "--sink", "nas", "--multiplier", 1, *where)
    arrays, _ = NasStore(data_dir).read("s", ["X_train", "y_train", "X_test", "y_test"])
    from sklearn.linear_model import LinearRegression

    fitted = LinearRegression().fit(arrays["X_train"], arrays["y_train"])
    coef, intercept = lstsq.solve(lstsq.moments(arrays["X_train"], arrays["y_train"]))
    np.testing.assert_allclose(coef, fitted.coef_, rtol=1e-8)
    theirs = _mse(arrays["X_test"], arrays["y_test"], fitted.coef_, fitted.intercept_)
    ours = _mse(arrays["X_test"], arrays["y_test"], coef, intercept)
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_moments_of_parts_merge_into_those_of_the_whole():
    rng = np.random.default_rng(3)
    X = np.asfortranarray(rng.standard_normal((50_000, 5)) * 1e3 + 1e6)
    y = rng.standard_normal(50_000)
    whole = lstsq.moments(X, y)
    parts = [lstsq.moments(X[a:b], y[a:b]) for a, b in ((0, 17), (17, 31_000), (31_000, 50_000))]
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert merged.rows == whole.rows
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-14)
    np.testing.assert_allclose(merged.scatter, whole.scatter, rtol=1e-11)


@pytest.mark.parametrize("order", ["F", "C"])
def test_kernel_leaves_private_arrays_as_they_were(order):
    # The kernel unmaps shared pages behind it; on private memory that would zero the data.
    rng = np.random.default_rng(4)
    X = np.array(rng.standard_normal((300_000, 3)), order=order)
    y = rng.standard_normal(300_000)
    before = X.copy(), y.copy()
    lstsq.moments(X, y)
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])


def test_solve_refuses_a_constant_column():
    X = np.ones((100, 2))
    X[:, 0] = np.arange(100)
    with pytest.raises(lstsq.IllConditioned):
        lstsq.solve(lstsq.moments(X, np.arange(100.0)))
