"""model.json loads into a fitted scikit-learn LinearRegression that predicts what the trained
estimator predicts (the README's three lines)."""

import warnings

import numpy as np
import pytest
from shmpipe_core.dataset import raw_path
from shmpipe_core.errors import StepError
from shmpipe_core.sklearn_model import load_linear_regression

from tests.support.processes import run_cli
from tests.support.reference import seed_frame, seed_split


def test_loaded_model_predicts_as_the_seeds_estimator(data_dir):
    common = ["--data-dir", data_dir, "--run-id", "skl"]
    run_cli("preprocess", "--sink", "nas", "--multiplier", 1, *common)
    run_cli("train", "--source", "nas", *common)

    model = load_linear_regression(data_dir / "runs" / "skl" / "model.json")

    X_train, X_test, y_train, _ = seed_split(seed_frame(raw_path(data_dir, 1)))
    from sklearn.linear_model import LinearRegression

    seed = LinearRegression().fit(X_train, y_train)
    assert list(model.feature_names_in_) == list(X_test.columns)
    assert model.n_features_in_ == X_test.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DataFrame with the right columns: no name warning
        predicted = model.predict(X_test)
    np.testing.assert_allclose(predicted, seed.predict(X_test), rtol=1e-9)
    np.testing.assert_allclose(model.coef_, seed.coef_, rtol=1e-9)


def test_a_file_that_is_not_a_model_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(StepError, match="rerun the train step"):
        load_linear_regression(path)
