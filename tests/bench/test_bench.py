"""`pipeline-bench` end to end at M=1: it writes its outputs, cleans up, and stops what it started.

No timing assertion: the benchmark measures, the tests only check that it works.
"""

import json

from tests.support.processes import run_cli

SUMMARY_KEYS = {
    "store",
    "multiplier",
    "e2e_s",
    "handoff_s",
    "train_load_s",
    "evaluate_load_s",
    "memcpy_s",
    "peak_rss_bytes",
}


def test_bench_writes_results_and_cleans_up(data_dir, isolated_env, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "pipeline-bench",
        "--multipliers",
        1,
        "--repeats",
        1,
        "--no-warmup",
        "--cross-node-mib",
        8,
        "--data-dir",
        data_dir,
        "--out",
        out,
        env=isolated_env,
    )
    assert "M=1" in result.stderr  # progress is shown while it runs
    results = json.loads((out / "results.json").read_text())
    assert {"cpu_model", "cores", "ram_bytes", "kernel", "python", "date", "load_average"} <= set(
        results["machine"]
    )
    assert [(e["store"], e["multiplier"]) for e in results["summary"]] == [
        ("nas", 1),
        ("vineyard", 1),
    ]
    for entry in results["summary"]:
        assert set(entry) >= SUMMARY_KEYS
        assert set(entry["peak_rss_bytes"]) == {"preprocess", "train", "evaluate"}
    assert len(results["runs"]) == 2
    nas_run = next(r for r in results["runs"] if r["store"] == "nas")
    assert set(nas_run["cold_reads"]) == {"train", "evaluate"}
    assert {t["status"] for t in results["targets"]} <= {"met", "not met", "not measured"}
    fetch = results["cross_node_fetch"]  # two vineyardd sharing one etcd, issue 6's two nodes
    assert fetch["bytes"] == 8 << 20 and fetch["bytes_per_s"] > 0
    assert (out / "results.md").read_text().startswith("# pipeline-bench results")
    assert "## Cross-node fetch" in (out / "results.md").read_text()
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Each run's data is gone, and the embedded vineyardd the bench started is stopped.
    assert not any((data_dir / "runs").glob("*"))
    status = json.loads(run_cli("vineyard-local", "status", env=isolated_env).stdout)
    assert status["running"] is False


def test_bench_rejects_bad_multipliers(tmp_path):
    result = run_cli("pipeline-bench", "--multipliers", "10,x", "--out", tmp_path, check=False)
    assert result.returncode == 2
    assert "invalid multiplier" in result.stderr
