"""Idempotence: rerunning with the same run id replaces the outputs atomically; a reader
running meanwhile sees the old commit or the new one, never a mix, and never an error."""

import json
import subprocess
import sys

import pytest

from tests.support.processes import run_cli
from tests.support.vineyard import memory_usage, names

SECONDS = 4


@pytest.mark.parametrize("kind", ["nas", "vineyard"])
def test_reader_sees_whole_commits_while_a_writer_recommits(kind, tmp_path, vineyardd):
    location = str(tmp_path) if kind == "nas" else vineyardd()[0]
    if kind == "vineyard":
        baseline = memory_usage(location)

    def churn(action):
        return subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.churn", action, kind, location, "idem",
             str(SECONDS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    writer, reader = churn("write"), churn("read")
    results = {}
    for name, process in (("writer", writer), ("reader", reader)):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"{name}: {err}"
        results[name] = json.loads(out)
    assert results["writer"]["generations"] > 10, results
    # The reader really overlapped many commits, and every read was whole.
    assert results["reader"]["reads"] > 10 and results["reader"]["distinct"] > 3, results
    if kind == "nas":
        split = tmp_path / "runs" / "idem" / "splits"
        # Earlier generations and temp files are gone: only the last commit is left.
        assert len(list(split.iterdir())) == 1 + 4
    else:
        # Earlier commits were deleted, not leaked: only the last one's objects remain, and the
        # one it replaced (kept for readers still on it).
        assert sorted(names(location, "idem/*")) == sorted(
            f"idem/{n}" for n in ("X_train", "y_train", "X_test", "y_test", "splits",
                                  "splits.previous")
        )  # fmt: skip
        run_cli("cleanup", "--run-id", "idem", "--store", "vineyard", "--vineyard-socket",
                location, "--data-dir", tmp_path)  # fmt: skip
        assert memory_usage(location) == baseline
