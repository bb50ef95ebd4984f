"""The whole pipeline, each step its own process, gives the seed's MSE with either store."""

import json
import subprocess
import sys

import pytest
from shmpipe_core.dataset import raw_path

from tests.support.processes import BIN, run_cli
from tests.support.reference import seed_mse


@pytest.fixture(scope="module")
def expected_mse(raw_data_dir):
    return seed_mse(raw_path(raw_data_dir, 1))


def close(a, b):
    return abs(a - b) / abs(b) < 1e-9


@pytest.mark.parametrize("sink", ["nas", "vineyard"])
def test_pipeline_matches_the_seed(sink, data_dir, vineyard_socket, expected_mse):
    out = run_cli(
        "pipeline",
        "--sink",
        sink,
        "--multiplier",
        1,
        "--data-dir",
        data_dir,
        "--run-id",
        f"p-{sink}",
        "--vineyard-socket",
        vineyard_socket,
        "--json",
    )
    result = json.loads(out.stdout)
    assert close(result["mse"], expected_mse)
    assert [s["name"] for s in result["steps"]] == ["preprocess", "train", "evaluate"]
    assert all(s["seconds"] > 0 and s["peak_rss_bytes"] > 0 for s in result["steps"])
    assert result["sink"] == sink and result["multiplier"] == 1
    metrics = json.loads((data_dir / "runs" / f"p-{sink}" / "metrics.json").read_text())
    assert metrics["mse"] == result["mse"]
    # The same number alone, for Argo's output parameter: it reads back as exactly that float.
    mse_text = (data_dir / "runs" / f"p-{sink}" / "mse").read_text()
    assert mse_text == f"{metrics['mse']!r}\n"
    assert set(metrics["phases"]) >= {"load", "compute"}
    model = json.loads((data_dir / "runs" / f"p-{sink}" / "model.json").read_text())
    assert len(model["coef"]) == 45


def test_steps_by_hand_with_embedded_vineyard(data_dir, isolated_env, expected_mse):
    """The README's manual sequence: nothing configured, each step a new process."""
    common = ["--data-dir", data_dir, "--run-id", "demo"]
    try:
        run_cli("preprocess", "--sink", "vineyard", "--multiplier", 1, *common, env=isolated_env)
        run_cli("train", "--source", "vineyard", *common, env=isolated_env)
        out = run_cli("evaluate", "--source", "vineyard", *common, env=isolated_env)
        assert close(json.loads(out.stdout.splitlines()[-1])["mse"], expected_mse)
    finally:
        run_cli("vineyard-local", "stop", env=isolated_env)


def test_table_output(data_dir, vineyard_socket):
    out = run_cli(
        "pipeline",
        "--sink",
        "nas",
        "--data-dir",
        data_dir,
        "--vineyard-socket",
        vineyard_socket,
    )
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["STEP", "DURATION", "PEAK", "MEMORY"]
    assert [line.split()[0] for line in lines[1:4]] == ["preprocess", "train", "evaluate"]
    assert "mse=" in lines[-1]


# A parent 400 MB large spawns the step: its record's peak must be the step's own memory.
BIG_PARENT = """import subprocess, sys
import numpy as np
held = np.ones(50_000_000)  # 400 MB, touched
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
"""


def test_a_step_records_its_own_peak_not_its_parent_s(data_dir):
    step = [
        str(BIN / "preprocess"),
        "--sink",
        "nas",
        "--data-dir",
        str(data_dir),
        "--run-id",
        "own",
    ]
    subprocess.run([sys.executable, "-c", BIG_PARENT, *step], check=True)
    record = json.loads((data_dir / "runs" / "own" / "steps" / "preprocess.json").read_text())
    # preprocess at M=1 peaks near 100 MB; its parent's 400 MB are not its.
    assert record["peak_rss_bytes"] < 300e6, record["peak_rss_bytes"]
