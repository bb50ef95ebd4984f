"""A run's model.json as a fitted scikit-learn LinearRegression, for use outside the pipeline.

    from shmpipe_core.sklearn_model import load_linear_regression
    model = load_linear_regression("data/runs/<run-id>/model.json")
    model.predict(X)  # X: rows x the 45 features, in model.feature_names_in_ order

It lives in core, beside the model file's format, so that anyone with the model file and core can
use it; scikit-learn is imported on call, because core (and every step image but train's) does not
depend on it: install scikit-learn where this is used.
"""

from pathlib import Path

import numpy as np

from . import model_file
from .errors import StepError


def load_linear_regression(path: Path | str):
    """The model at `path` (a model.json written by the train step) as a fitted
    `sklearn.linear_model.LinearRegression`: coef_, intercept_, n_features_in_ and
    feature_names_in_ set, so `predict` gives what the trained estimator gave."""
    try:
        from sklearn.linear_model import LinearRegression
    except ImportError:
        raise StepError("scikit-learn is not installed: `pip install scikit-learn`") from None
    saved = model_file.load(Path(path))
    model = LinearRegression()
    model.coef_ = np.asarray(saved["coef"], dtype=np.float64)
    model.intercept_ = float(saved["intercept"])
    model.n_features_in_ = len(saved["features"])
    # With names set, scikit-learn checks a DataFrame's columns against them on predict.
    model.feature_names_in_ = np.asarray(saved["features"], dtype=object)
    return model
