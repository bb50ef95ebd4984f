"""A run split into partitions gives the one-partition run's rows and model: each partition's
split holds exactly its range of the one-partition split, and the MSE agrees to 1e-12."""

import json

import numpy as np
import pytest
from shmpipe_core.layout import RunLayout
from shmpipe_core.stores import open_store

from tests.support.processes import run_cli
from tests.support.vineyard import names

SPLIT = ["X_train", "y_train", "X_test", "y_test"]


def pipeline(data_dir, sink, run_id, partitions, multiplier=1, env=None, socket=None):
    flags = ["--vineyard-socket", socket] if socket else []
    out = run_cli(
        "pipeline", "--sink", sink, "--multiplier", multiplier, "--data-dir", data_dir,
        "--run-id", run_id, "--partitions", partitions, "--json", "--keep", *flags, env=env,
    )  # fmt: skip
    return json.loads(out.stdout)


def arrays(data_dir, sink, run_id, partition=None, socket=None) -> dict:
    store = open_store(sink, data_dir, socket, partition=partition)
    try:
        read, _ = store.read(run_id, SPLIT)
        return {name: np.array(a) for name, a in read.items()}  # copies: the store closes
    finally:
        store.close()


def records(data_dir, run_id) -> dict:
    steps = RunLayout(data_dir, run_id).steps
    return {p.stem: json.loads(p.read_text()) for p in steps.glob("*.json")}


@pytest.mark.parametrize("multiplier", [1, 10])
@pytest.mark.parametrize("sink", ["nas", "vineyard"])
def test_partitions_give_the_one_partition_rows_and_mse(
    sink, multiplier, data_dir, vineyard_socket
):
    if multiplier > 1:
        run_cli("prepare-data", "--multiplier", multiplier, "--data-dir", data_dir)
    socket = vineyard_socket if sink == "vineyard" else None
    whole = pipeline(data_dir, sink, "p1", 1, multiplier, socket=socket)
    reference = arrays(data_dir, sink, "p1", socket=socket)
    for partitions in (2, 3):
        run_id = f"p{partitions}"
        result = pipeline(data_dir, sink, run_id, partitions, multiplier, socket=socket)
        assert abs(result["mse"] - whole["mse"]) <= 1e-12 * abs(whole["mse"])
        parts = [arrays(data_dir, sink, run_id, k, socket) for k in range(partitions)]
        for name in SPLIT:
            # The partitions' rows, in order, are the one-partition split's, bit for bit.
            joined = np.concatenate([p[name] for p in parts])
            assert np.array_equal(joined, reference[name]), name
        steps = records(data_dir, run_id)
        assert set(steps) == {
            *(f"{s}-{k}" for s in ("preprocess", "train", "evaluate") for k in range(partitions)),
            "train-merge",
            "evaluate-merge",
        }
        # No process holds much more than its partition's share of the split (the 80/20 draw
        # puts a few more test rows in one partition than in another): at P=2, 0.6x.
        whole_steps = records(data_dir, "p1")
        for step in ("preprocess", "train", "evaluate"):
            held = max(sum(steps[f"{step}-{k}"]["bytes"].get(n, 0) for n in SPLIT)
                       for k in range(partitions))  # fmt: skip
            one = sum(whole_steps[step]["bytes"].get(n, 0) for n in SPLIT)
            assert held <= one * (1 / partitions + 0.1), (step, held, one)
        model = json.loads(RunLayout(data_dir, run_id).model.read_text())
        assert model["train_rows"] == len(reference["y_train"])
        assert model["partitions"] == partitions
        # The model names every partition, where it lived and its raw rows, which tile the table.
        placement = model["placement"]
        assert [p["partition"] for p in placement] == list(range(partitions))
        bounds = [b for p in placement for b in p["raw_rows"]]
        assert bounds == sorted(bounds) and bounds[0] == 0 and bounds[-1] == multiplier * 10_000
        assert all(bounds[i] == bounds[i + 1] for i in range(1, len(bounds) - 1, 2))


def test_local_partitions_each_on_their_own_vineyardd(data_dir, isolated_env):
    """Nothing configured: the runner starts one embedded vineyardd per partition, each holds
    its partition alone, and cleanup deletes from every one."""
    try:
        result = pipeline(data_dir, "vineyard", "own", 2, env=isolated_env)
        sockets = json.loads(run_cli("vineyard-local", "status", env=isolated_env).stdout)
        node0 = sockets["socket"]
        node1 = node0.replace("/vineyard.sock", "/node-1/vineyard.sock")
        held0, held1 = set(names(node0, "own/*")), set(names(node1, "own/*"))
        assert held0 and all(n.startswith("own/part-0/") for n in held0), held0
        assert held1 and all(n.startswith("own/part-1/") for n in held1), held1
        placement = [
            json.loads(RunLayout(data_dir, "own").part("preprocess", k).read_text())
            for k in range(2)
        ]
        assert [p["partition"] for p in placement] == [0, 1]
        assert node1 in placement[1]["store"]
        listed = run_cli("runs", "--data-dir", data_dir, "--json", env=isolated_env).stdout
        runs = [json.loads(line) for line in listed.splitlines()]
        assert any(r["run_id"] == "own" and r["bytes"] > 0 for r in runs), runs
        run_cli("cleanup", "--run-id", "own", "--data-dir", data_dir, env=isolated_env)
        assert names(node0, "own/*") == {} and names(node1, "own/*") == {}
        assert result["partitions"] == 2
    finally:
        out = run_cli("vineyard-local", "stop", env=isolated_env)
    assert out.stdout.strip() == "stopped"
    # Every node's daemon stopped, not only the first.
    assert "not running" in run_cli("vineyard-local", "stop", env=isolated_env).stdout


def step(name, data_dir, *args, check=False):
    store = "--sink" if name == "preprocess" else "--source"
    return run_cli(
        name, store, "nas", "--data-dir", data_dir, "--run-id", "bad", *args, check=check
    )


def one_line_error(result, code: int, *words):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(w in lines[0] for w in words), lines[0]


def test_bad_partition_flags_are_usage_errors(data_dir):
    one_line_error(step("train", data_dir, "--partitions", "2", "--partition", "2"), 2, "0 to 1")
    one_line_error(step("train", data_dir, "--partitions", "0"), 2, "--partitions")
    one_line_error(step("evaluate", data_dir, "--merge"), 2, "--partitions 2 or more")
    one_line_error(step("preprocess", data_dir, "--partitions", "x"), 2, "whole number")


def test_merges_and_partitions_refuse_what_does_not_fit(data_dir):
    # A merge before its partitions ran says which to run.
    merged = step("train", data_dir, "--partitions", "2", "--merge")
    one_line_error(merged, 1, "train --partitions 2 --partition 0")
    for k in (0, 1):
        step("preprocess", data_dir, "--partitions", "2", "--partition", k, check=True)
        step("train", data_dir, "--partitions", "2", "--partition", k, check=True)
    # Records of another partitioning are refused, not merged.
    one_line_error(step("train", data_dir, "--partitions", "3", "--merge"), 1, "partition 0")
    step("train", data_dir, "--partitions", "2", "--merge", check=True)
    # A model of the two-partition run scores no one-partition split, and the other way round.
    step("preprocess", data_dir, check=True)
    one_line_error(step("evaluate", data_dir), 1, "rerun train")
    step("train", data_dir, check=True)
    evaluated = step("evaluate", data_dir, "--partitions", "2", "--partition", "1")
    one_line_error(evaluated, 1, "rerun train")
    # The one-partition preprocess replaced partition 0's placement: the merge says so.
    merged = step("train", data_dir, "--partitions", "2", "--merge")
    one_line_error(merged, 1, "rerun preprocess for every partition")
    step("preprocess", data_dir, "--partitions", "2", "--partition", "0", check=True)
    step("train", data_dir, "--partitions", "2", "--partition", "0", check=True)
    # A partition rerun after the model was fitted: its evaluate refuses the stale model.
    step("train", data_dir, "--partitions", "2", "--merge", check=True)
    step("preprocess", data_dir, "--partitions", "2", "--partition", "1", check=True)
    evaluated = step("evaluate", data_dir, "--partitions", "2", "--partition", "1")
    one_line_error(evaluated, 1, "rerun train")
    step("evaluate", data_dir, "--partitions", "2", "--partition", "0", check=True)
    # An evaluate merge whose partitions were scored with another model is refused.
    step("train", data_dir, "--partitions", "2", "--partition", "1", check=True)
    step("train", data_dir, "--partitions", "2", "--merge", check=True)
    step("evaluate", data_dir, "--partitions", "2", "--partition", "1", check=True)
    merged = step("evaluate", data_dir, "--partitions", "2", "--merge")
    one_line_error(merged, 1, "rerun evaluate for every partition")
