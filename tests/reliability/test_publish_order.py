"""evaluate publishes metrics.json only once `mse` is written: a failure writing `mse` leaves no
metrics.json behind."""

from tests.support.processes import run_cli


def test_evaluate_that_cannot_write_mse_publishes_no_metrics(data_dir):
    common = ["--data-dir", data_dir, "--run-id", "m"]
    run_cli("preprocess", "--sink", "nas", *common)
    run_cli("train", "--source", "nas", *common)
    run = data_dir / "runs" / "m"
    (run / "mse" / "in-the-way").mkdir(parents=True)  # a directory cannot be replaced by a file
    result = run_cli("evaluate", "--source", "nas", *common, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (run / "metrics.json").exists()
