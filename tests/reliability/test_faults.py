"""Faults: a step killed during its save, vineyard out of memory, vineyardd restarted
between steps."""

import re

import pytest
from shmpipe_core.dataset import raw_path
from shmpipe_core.runs import list_runs

from tests.support.processes import kill_at, last_json, run_cli
from tests.support.reference import seed_mse
from tests.support.splits import read
from tests.support.vineyard import memory_usage, names, start_vineyardd


@pytest.mark.parametrize(
    "sink, point", [("nas", "nas-commit"), ("vineyard", "vineyard-commit"),
                    ("vineyard", "vineyard-names")],
)  # fmt: skip
def test_sigkill_during_save_leaves_no_partial_output(sink, point, data_dir, vineyardd):
    socket, _ = vineyardd()
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    step = ["preprocess", "--sink", sink, *common]
    # First run killed: nothing is visible, a reader is told to run preprocess.
    kill_at(point, *step, "--run-id", "first")
    result = run_cli("train", "--source", sink, "--run-id", "first", *common, check=False)
    assert result.returncode == 1 and "preprocess --sink" in result.stderr, result.stderr
    if sink == "nas":
        assert not (data_dir / "runs" / "first" / "splits" / "manifest.json").exists()
    else:
        assert "first/splits" not in names(socket, "first/*")
    # A rerun killed: readers still get the previous commit, whole and checked.
    run_cli(*step, "--run-id", "second")
    expected = read(sink, data_dir, socket, "second")
    kill_at(point, *step, "--run-id", "second")
    assert read(sink, data_dir, socket, "second") == expected
    # And a rerun after the kill succeeds, leaving only its own files.
    run_cli(*step, "--run-id", "first")
    assert read(sink, data_dir, socket, "first") == expected
    if sink == "nas":
        left = sorted(p.name for p in (data_dir / "runs" / "first" / "splits").iterdir())
        assert len(left) == 5 and "manifest.json" in left, left  # no temp or stale files


@pytest.mark.parametrize("point", ["vineyard-pending", "vineyard-switched", "vineyard-older"])
def test_a_rerun_killed_after_naming_leaves_no_memory_cleanup_cannot_free(
    point, data_dir, vineyardd
):
    """From the commit's first name on, a SIGKILL leaves every object it made or replaced named:
    the next commit frees what the killed one left, and cleanup frees all."""
    socket, _ = vineyardd(size="64Mi")
    common = ["--data-dir", data_dir, "--vineyard-socket", socket, "--run-id", "kr"]
    step = ["preprocess", "--sink", "vineyard", *common]
    used = memory_usage(socket)
    run_cli(*step)
    one = memory_usage(socket) - used  # one commit's memory
    (listed,) = list_runs(data_dir, socket)
    # A second commit, so that the rerun killed has a replaced commit to keep and an older one
    # to delete (the windows where a commit could lose its name).
    run_cli(*step)
    expected = read("vineyard", data_dir, socket, "kr")
    kill_at(point, *step)
    assert read("vineyard", data_dir, socket, "kr") == expected  # one whole commit
    # Listed once, holding three commits (the killed one's, the current, the replaced), each
    # counted once whatever its names.
    (run,) = list_runs(data_dir, socket)
    assert run.run_id == "kr" and run.stores == ["vineyard"] and run.bytes == 3 * listed.bytes
    # The next commit frees what the killed one left: it holds its own and the replaced one.
    run_cli(*step)
    assert sorted(names(socket, "kr/*")) == sorted(
        f"kr/{n}" for n in ("X_train", "y_train", "X_test", "y_test", "splits", "splits.previous")
    )  # fmt: skip
    assert memory_usage(socket) == used + 2 * one
    # Killed again, then cleaned up: nothing of the run is left, named or not.
    kill_at(point, *step)
    run_cli("cleanup", *common)
    assert names(socket, "kr/*") == {}
    assert memory_usage(socket) == used
    # And the run works again from scratch, with the seed's MSE.
    run_cli(*step)
    run_cli(*step)
    run_cli("train", "--source", "vineyard", *common)
    mse = last_json(run_cli("evaluate", "--source", "vineyard", *common).stdout)["mse"]
    expected_mse = seed_mse(raw_path(data_dir, 1))
    assert abs(mse - expected_mse) / expected_mse < 1e-9, (mse, expected_mse)


def test_out_of_memory_is_clear_and_touches_nothing_else(data_dir, vineyardd):
    # The other run takes 3.5 MB; the failing one needs 10.5 MB: its X_train fits, X_test not.
    socket, _ = vineyardd(size="12Mi")
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    run_cli("preprocess", "--sink", "vineyard", "--run-id", "other", *common)
    other = names(socket)
    used = memory_usage(socket)
    run_cli("prepare-data", "--multiplier", 3, "--data-dir", data_dir)
    result = run_cli(
        "preprocess", "--sink", "vineyard", "--multiplier", 3, "--run-id", "big", *common,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "out of shared memory" in lines[0] and socket in lines[0] and "cleanup" in lines[0]
    # Why it failed, in sizes a person reads: the arrays already allocated count, measured
    # before they were freed again (else "needs 0.01 GiB, 0.03 GiB are free").
    needs, free = re.search(r"X_test needs (\S+ \S+) in one piece, (\S+ \S+) of", lines[0]).groups()
    assert in_bytes(needs) > in_bytes(free) and "other arrays took" in lines[0], lines[0]
    # Nothing of the failed run is named or kept; the other run is intact and readable.
    assert names(socket) == other
    assert memory_usage(socket) == used
    run_cli("train", "--source", "vineyard", "--run-id", "other", *common)


def in_bytes(size: str) -> float:
    number, unit = size.split()
    return float(number) * 1024 ** ["B", "KiB", "MiB", "GiB"].index(unit)


def test_vineyardd_restarted_between_steps(data_dir, short_tmp):
    directory = short_tmp / "restart"
    socket = str(directory / "vineyard.sock")
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    process = start_vineyardd(directory, size="256Mi")
    try:
        run_cli("preprocess", "--sink", "vineyard", "--run-id", "rs", *common)
        process.terminate()
        process.wait(timeout=30)
        process = start_vineyardd(directory, size="256Mi")
        result = run_cli("train", "--source", "vineyard", "--run-id", "rs", *common, check=False)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    # Names the missing object, the run, the socket, why, and which step to rerun.
    for words in ("'rs/splits'", "run 'rs'", socket, "restarts",
                  "rerun `preprocess --sink vineyard --run-id rs`"):  # fmt: skip
        assert words in line, line
