"""A zero-copy reader whose arrays change under it (its run cleaned up, the memory reused by
another run) fails in one line and publishes nothing, instead of saving a model or metrics of
whatever now lies in that memory."""

import signal
import subprocess

import pytest
from shmpipe_core.stores.vineyard import VineyardStore
from shmpipe_core.vineyard.client import try_connect

from tests.support.processes import assert_one_line_error, run_cli, stopped_at
from tests.support.vineyard import memory_usage, names


def fill_free_memory(socket: str) -> None:
    """Commit another run whose one array takes nearly all of vineyardd's memory, every element
    7.0: whatever the cleaned-up run held is now overwritten."""
    client = try_connect(socket)
    try:
        status = client.status
        free = status.memory_limit - status.memory_usage
    finally:
        client.close()
    writer = VineyardStore.connect(socket).writer("other")
    writer.allocate("fill", ((free - 2**20) // 8,))[...] = 7.0
    writer.commit([])


@pytest.mark.parametrize(
    "step, output, first", [("train", "model.json", "X_train"),
                            ("evaluate", "metrics.json", "X_test")]
)  # fmt: skip
def test_a_reader_whose_memory_is_reused_fails_and_publishes_nothing(
    step, output, first, data_dir, vineyardd
):
    socket, _ = vineyardd(size="16Mi")
    common = ["--data-dir", data_dir, "--vineyard-socket", socket, "--run-id", "r"]
    run_cli("preprocess", "--sink", "vineyard", *common)
    if step == "evaluate":
        run_cli("train", "--source", "vineyard", *common)
    published = data_dir / "runs" / "r" / output
    published.unlink(missing_ok=True)
    reader = stopped_at(f"{step}-after-load", step, "--source", "vineyard", *common)
    # The run is cleaned up under the reader, and another run takes its memory.
    run_cli("cleanup", *common)
    assert not names(socket, "r/*") and memory_usage(socket) == 0
    fill_free_memory(socket)
    reader.send_signal(signal.SIGCONT)
    out, err = reader.communicate(timeout=120)
    lines = [line for line in err.splitlines() if "fault point" not in line]
    result = subprocess.CompletedProcess(reader.args, reader.returncode, out, "\n".join(lines))
    # train's X_train is checked too: its shared mapping, not the private copy it centred.
    assert_one_line_error(result, 1, first, "changed in shared memory", "rerun preprocess")
    assert not published.exists()
