"""The saved model predicts exactly what scikit-learn's LinearRegression predicts."""

import numpy as np
from shmpipe_core import model_file
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error


def test_predict_and_mse_match_scikit_learn(tmp_path):
    rng = np.random.default_rng(1)
    X = np.asfortranarray(rng.integers(0, 5000, size=(2000, 45)).astype(np.float64))
    y = X @ rng.random(45) + rng.normal(0, 10, 2000)
    fitted = LinearRegression().fit(X, y)
    path = tmp_path / "model.json"
    model_file.save(path, "LinearRegression", fitted.coef_, fitted.intercept_, list("f" * 45), "c1")
    saved = model_file.load(path)
    np.testing.assert_array_equal(saved["coef"], fitted.coef_)  # JSON keeps every bit
    assert saved["intercept"] == fitted.intercept_
    np.testing.assert_array_equal(model_file.predict(saved, X), fitted.predict(X))
    expected = mean_squared_error(y, fitted.predict(X))
    assert abs(model_file.mean_squared_error(y, model_file.predict(saved, X)) - expected) <= (
        1e-12 * expected
    )
