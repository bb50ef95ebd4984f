"""evaluate refuses a model it cannot score honestly, in one line: non-finite or overflowing
values, the wrong shape, or a model trained on another commit of the split; metrics.json is
always valid JSON."""

import json

import pytest
from shmpipe_core.files import write_json

from tests.support.processes import assert_one_line_error, run_cli


@pytest.fixture
def trained(data_dir):
    common = ["--data-dir", data_dir, "--run-id", "m"]
    run_cli("preprocess", "--sink", "nas", *common)
    run_cli("train", "--source", "nas", *common)
    return data_dir, common


def evaluate(common):
    return run_cli("evaluate", "--source", "nas", *common, check=False)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda m: {**m, "coef": [float("nan")] * len(m["coef"])}, ["not finite"]),
        (lambda m: {**m, "intercept": float("inf")}, ["not finite"]),
        (lambda m: {**m, "coef": [1e308] * len(m["coef"])}, ["overflow"]),
        (lambda m: {**m, "coef": [[c] for c in m["coef"]]}, ["flat list of numbers"]),
        (lambda m: {**m, "coef": m["coef"][:-1], "features": m["features"][:-1]},
         ["other features"]),
        (lambda m: {k: v for k, v in m.items() if k != "intercept"}, ["intercept"]),
        (lambda m: {k: v for k, v in m.items() if k != "split_commit"}, ["which commit"]),
        # JSON integers are unbounded: past float64's range they cannot become a coefficient.
        (lambda m: {**m, "coef": [10**400] * len(m["coef"])}, ["beyond float64"]),
        (lambda m: {**m, "intercept": -(10**400)}, ["beyond float64"]),
    ],
    ids=["nan", "inf", "overflow", "nested", "short", "no-intercept", "no-commit", "huge-coef",
         "huge-intercept"],
)  # fmt: skip
def test_evaluate_refuses_a_bad_model(change, words, trained):
    data_dir, common = trained
    path = data_dir / "runs" / "m" / "model.json"
    # Python's json writes NaN and Infinity, as a careless or hostile writer would.
    path.write_text(json.dumps(change(json.loads(path.read_text()))))
    result = evaluate(common)
    assert_one_line_error(result, 1, *words, "train")
    assert not (data_dir / "runs" / "m" / "metrics.json").exists()


def test_evaluate_refuses_a_model_nested_too_deep_to_parse(trained):
    data_dir, common = trained
    path = data_dir / "runs" / "m" / "model.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # valid JSON that json.loads gives up on
    assert_one_line_error(evaluate(common), 1, "cannot read the model", "rerun the train step")
    assert not (data_dir / "runs" / "m" / "metrics.json").exists()


def test_evaluate_refuses_a_model_of_another_commit(trained, data_dir):
    _, common = trained
    run_cli("prepare-data", "--multiplier", 2, "--data-dir", data_dir)
    run_cli("preprocess", "--sink", "nas", "--multiplier", 2, *common)
    result = evaluate(common)
    assert_one_line_error(result, 1, "commit", "rerun train")
    run_cli("train", "--source", "nas", *common)
    run_cli("evaluate", "--source", "nas", *common)
    metrics = json.loads((data_dir / "runs" / "m" / "metrics.json").read_text())
    assert metrics["mse"] > 0


def _strict(text: str):
    """json.loads, refusing NaN, Infinity and -Infinity, which Python's json would accept."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_no_json_record_holds_nan(trained, tmp_path):
    """Coefficients that overflow make the MSE NaN or infinite: nothing written after it, and no
    record of the run at all, holds NaN or Infinity; a record of a NaN is refused, not written."""
    data_dir, common = trained
    path = data_dir / "runs" / "m" / "model.json"
    model = json.loads(path.read_text())
    path.write_text(json.dumps({**model, "coef": [1e308] * len(model["coef"])}))
    assert_one_line_error(evaluate(common), 1, "overflow")
    path.write_text(json.dumps(model))
    run_cli("evaluate", "--source", "nas", *common)
    records = sorted((data_dir / "runs" / "m").rglob("*.json"))
    assert {p.name for p in records} >= {"metrics.json", "model.json", "evaluate.json"}
    for record in records:
        _strict(record.read_text())
    out = tmp_path / "records"
    out.mkdir()
    with pytest.raises(ValueError):
        write_json(out / "record.json", {"mse": float("nan")})
    assert list(out.iterdir()) == []  # neither the record nor its temp file
