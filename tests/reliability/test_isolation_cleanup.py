"""Isolation and cleanup: concurrent runs do not see or damage each other; cleanup gives back
everything a run put, in vineyard (measured by vineyardd itself) and on the NAS, and keeps the
model and metrics."""

import json

import pytest
from shmpipe_core.dataset import raw_path

from tests.support.files import data_dir_with_raw
from tests.support.processes import last_json, run_cli, start_step
from tests.support.reference import seed_mse
from tests.support.vineyard import memory_usage, names, start_vineyardd

RUNS = ("iso-a", "iso-b")


@pytest.fixture(scope="module")
def shared(raw_data_dir, tmp_path_factory, short_tmp):
    """Four pipelines at once (two runs x two stores) on one vineyardd and one data dir, their
    splits kept (`--keep`) for the cleanup test to delete."""
    data_dir = data_dir_with_raw(raw_data_dir, tmp_path_factory.mktemp("shared"))
    process = start_vineyardd(short_tmp / "iso", size="512Mi")
    socket = str(short_tmp / "iso" / "vineyard.sock")
    baseline = memory_usage(socket)
    pipelines = {
        (run, sink): start_step(
            "pipeline", "--sink", sink, "--data-dir", data_dir, "--run-id", f"{run}-{sink}",
            "--vineyard-socket", socket, "--json", "--keep",
        )
        for run in RUNS
        for sink in ("nas", "vineyard")
    }  # fmt: skip
    results = {}
    for key, p in pipelines.items():
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results[key] = last_json(out)
    yield {"data_dir": data_dir, "socket": socket, "baseline": baseline, "results": results}
    process.terminate()
    process.wait(timeout=30)


def test_concurrent_runs_each_get_the_right_mse(shared, raw_data_dir):
    expected = seed_mse(raw_path(raw_data_dir, 1))
    for (run, sink), result in shared["results"].items():
        assert abs(result["mse"] - expected) / expected < 1e-9, (run, sink)
        assert result["run_id"] == f"{run}-{sink}"
    # Each run has its own objects: no name is shared.
    ids = {run: names(shared["socket"], f"{run}-vineyard/*") for run in RUNS}
    assert ids["iso-a"] and ids["iso-b"]
    assert not set(ids["iso-a"].values()) & set(ids["iso-b"].values())


def test_cleanup_deletes_one_run_keeps_the_others_and_frees_the_memory(shared):
    data_dir, socket = shared["data_dir"], shared["socket"]
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    before_b = names(socket, "iso-b-vineyard/*")
    for sink in ("nas", "vineyard"):
        out = run_cli("cleanup", "--run-id", f"iso-a-{sink}", *common)
        assert json.loads(out.stdout)["deleted"][sink]
        run_dir = data_dir / "runs" / f"iso-a-{sink}"
        assert not (run_dir / "splits").exists()
        assert (run_dir / "model.json").exists() and (run_dir / "metrics.json").exists()
    assert names(socket, "iso-a-vineyard/*") == {}
    # The other run is untouched and still readable.
    assert names(socket, "iso-b-vineyard/*") == before_b
    run_cli("evaluate", "--source", "vineyard", "--run-id", "iso-b-vineyard", *common)
    run_cli("evaluate", "--source", "nas", "--run-id", "iso-b-nas", *common)
    for sink in ("nas", "vineyard"):
        run_cli("cleanup", "--run-id", f"iso-b-{sink}", *common)
    assert names(socket) == {}
    # From vineyardd's own accounting, not assumed: every byte the runs put is given back.
    assert memory_usage(socket) == shared["baseline"]
    # Cleanup is idempotent: the workflow's onExit may run it twice.
    again = json.loads(run_cli("cleanup", "--run-id", "iso-a-vineyard", *common).stdout)
    assert again["deleted"] == {"nas": [], "vineyard": []}
