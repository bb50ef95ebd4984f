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

from .errors import StepError
from .files import read_small_file, write_json

FORMAT = "shmpipe-linear-model/1"

# A model is a few kB (one coefficient per feature, 45 of them, and their names): the cap is far
# above any model train writes, and keeps a huge file (or a link to /dev/zero) from being read.
MODEL_MAX_BYTES = 1 << 20


def save(
    path: Path,
    estimator: str,
    coef: np.ndarray,
    intercept: float,
    features: list[str],
    split_commit: str,
    **extra,
) -> None:
    """`split_commit`: the manifest's `commit` of the split it was fitted on, which evaluate
    checks, so a model is never scored on a split it was not trained for."""
    write_json(
        path,
        {
            "format": FORMAT,
            "estimator": estimator,
            "features": list(features),
            "coef": [float(c) for c in coef],
            "intercept": float(intercept),
            "split_commit": split_commit,
            **extra,
        },
    )


def load(path: Path) -> dict:
    def bad(what) -> StepError:
        return StepError(f"cannot read the model {path} ({what}): rerun the train step")

    try:
        # Not text at all (a pickle, say) is refused before anything parses it; so are a FIFO,
        # a link and a file past the cap.
        text = read_small_file(path, MODEL_MAX_BYTES, bad, follow_links=False)
    except FileNotFoundError:
        raise StepError(f"no model at {path}: run the train step for this run first") from None
    try:
        model = json.loads(text)
    # RecursionError: arrays nested thousands deep, which json gives up on.
    except (json.JSONDecodeError, RecursionError) as e:
        raise bad(e) from None
    if not isinstance(model, dict) or model.get("format") != FORMAT:
        raise StepError(f"{path} is not a {FORMAT} model: rerun the train step")
    return check(model, str(path))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check(model: dict, where: str) -> dict:
    """The model with its coefficients as an array, once they are what train writes: a flat
    list of finite numbers, one per feature, and a finite intercept."""

    def bad(what: str) -> StepError:
        return StepError(f"{where} is not a {FORMAT} model ({what}): rerun the train step")

    coef, features = model.get("coef"), model.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise bad("'features' is not a list of column names")
    if not isinstance(coef, list) or not all(_number(c) for c in coef):
        raise bad("'coef' is not a flat list of numbers")
    if len(coef) != len(features):
        raise bad(f"{len(coef)} coefficients for {len(features)} features")
    if not _number(model.get("intercept")):
        raise bad("'intercept' is not a number")
    try:
        # JSON integers have no bound: one past float64's range (10**400) overflows here.
        model["coef"] = np.asarray(coef, dtype=np.float64)
        model["intercept"] = float(model["intercept"])
    except OverflowError:
        raise bad("a coefficient or the intercept is beyond float64's range") from None
    if not (np.isfinite(model["coef"]).all() and np.isfinite(model["intercept"])):
        raise bad("its coefficients or intercept are not finite (NaN or infinite)")
    if not isinstance(model.get("split_commit"), str):
        raise bad("it does not record which commit of the split it was trained on")
    return model


def predict(model: dict, X: np.ndarray) -> np.ndarray:
    if X.ndim != 2 or X.shape[1] != model["coef"].shape[0]:
        raise StepError(
            f"the model has {model['coef'].shape[0]} coefficients, the split's X has shape "
            f"{X.shape}: rerun the train step on this split"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # mean_squared_error says it in one line
        return X @ model["coef"] + model["intercept"]


def squared_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # `finite` says it in one line
        return (y_true - y_pred) ** 2


def finite(mse: float) -> float:
    if not np.isfinite(mse):
        # Finite but huge coefficients (1e308) overflow: no number to report, and JSON has none.
        raise StepError(
            "the model's predictions overflow (MSE is not finite): rerun the train step"
        )
    return mse


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's mean_squared_error for one output and no weights: the mean of squares."""
    with np.errstate(over="ignore", invalid="ignore"):
        return finite(float(np.average(squared_errors(y_true, y_pred))))
