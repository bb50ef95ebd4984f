"""The trained model as an artifact on the shared volume: plain JSON, nothing runs on load.

A linear model is its coefficients and intercept, and applying it is one matrix-vector product:
`predict` computes exactly what scikit-learn's `LinearRegression.predict` does (X @ coef_ +
intercept_; a test holds them bit-equal), so the evaluate step needs neither scikit-learn nor
SciPy, seconds of start-up in every pod. JSON holds float64 values exactly (Python
writes the shortest repr that reads back to the same double), so the model evaluated later is
bit for bit the one trained, and loading it cannot execute code, unlike pickle or joblib.
"""

import json
from pathlib import Path

import numpy as np

from .dataset import run_dir
from .errors import StepError
from .files import write_json

FORMAT = "shmpipe-linear-model/1"


def model_path(data_dir: Path, run_id: str) -> Path:
    return run_dir(data_dir, run_id) / "model.json"


def save(
    path: Path, estimator: str, coef: np.ndarray, intercept: float, features: list[str], **extra
) -> None:
    write_json(
        path,
        {
            "format": FORMAT,
            "estimator": estimator,
            "features": list(features),
            "coef": [float(c) for c in coef],
            "intercept": float(intercept),
            **extra,
        },
    )


def load(path: Path) -> dict:
    try:
        model = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise StepError(f"no model at {path}: run the train step for this run first") from None
    # UnicodeDecodeError: not text at all (a pickle, say), refused before anything parses it.
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StepError(f"cannot read the model {path} ({e}): rerun the train step") from None
    if model.get("format") != FORMAT or len(model.get("coef", ())) != len(
        model.get("features", ())
    ):
        raise StepError(f"{path} is not a {FORMAT} model: rerun the train step")
    model["coef"] = np.asarray(model["coef"], dtype=np.float64)
    return model


def predict(model: dict, X: np.ndarray) -> np.ndarray:
    return X @ model["coef"] + model["intercept"]


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's mean_squared_error for one output and no weights: the mean of squares."""
    return float(np.average((y_true - y_pred) ** 2))
