"""A run's model.json as a fitted scikit-learn LinearRegression, for use outside the pipeline.
scikit-learn is imported on call: only train's image carries it."""

from pathlib import Path

import numpy as np

from . import model_file
from .errors import StepError


def load_linear_regression(path: Path | str):
    """The model.json at `path` as a fitted `LinearRegression` that predicts as trained."""
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
