"""Bad input gives one line saying what is wrong and what to do, exit 2 for usage errors and 1 for
runtime errors, no traceback. Extends tests/reliability/test_cli_errors.py (bad flags, multiplier
0/negative/non-integer/huge, unknown sink, missing raw data, unknown run id, wrong socket path,
unreadable vineyard config), which is not repeated here."""

import os
import resource
import subprocess

import numpy as np
import pyarrow as pa
import pytest
from shmpipe_core.dataset import raw_path

from tests.support.processes import BIN, assert_one_line_error, run_cli


def copy_raw(data_dir):
    """A private, writable copy of the raw table (the fixture's files are hard links)."""
    path = raw_path(data_dir, 1)
    content = path.read_bytes()
    path.unlink()
    path.write_bytes(content)
    return path


def preprocess(data_dir, *extra, code=1):
    return run_cli("preprocess", "--sink", "nas", "--data-dir", data_dir, *extra, check=False)


def test_truncated_raw_file(data_dir):
    path = copy_raw(data_dir)
    os.truncate(path, path.stat().st_size // 2)
    assert_one_line_error(preprocess(data_dir), 1, str(path), "corrupt or truncated",
                          "prepare-data")  # fmt: skip


def test_corrupt_raw_file(data_dir):
    path = copy_raw(data_dir)
    content = bytearray(path.read_bytes())
    content[:64] = b"\xff" * 64  # the magic and the schema message
    content[-64:] = b"\x00" * 64  # the footer
    path.write_bytes(bytes(content))
    assert_one_line_error(preprocess(data_dir), 1, str(path), "prepare-data")


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_raw_file_with_a_missing_or_extra_column(change, data_dir):
    path = copy_raw(data_dir)
    # From bytes in memory, not a map: the file is rewritten below.
    table = pa.ipc.open_file(pa.py_buffer(path.read_bytes())).read_all()
    if change == "missing":
        table = table.drop_columns(["GrLivArea"])
    else:
        table = table.append_column("Extra", pa.array(np.zeros(table.num_rows, dtype=np.int64)))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    word = "missing ['GrLivArea']" if change == "missing" else "extra ['Extra']"
    assert_one_line_error(preprocess(data_dir), 1, str(path), word, "prepare-data")


def test_unwritable_data_dir(data_dir, tmp_path):
    # A data dir under a regular file cannot be created by anyone, root included.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli("prepare-data", "--data-dir", blocker / "data", check=False)
    assert_one_line_error(result, 1, "writable --data-dir")
    # Raw data readable, but the runs directory cannot be written.
    (data_dir / "runs").write_text("")
    result = preprocess(data_dir)
    assert_one_line_error(result, 1, str(data_dir / "runs"), "writable directory")


def test_unknown_run_id_for_evaluate_and_cleanup(tmp_path):
    result = run_cli("evaluate", "--source", "nas", "--data-dir", tmp_path, "--run-id", "ghost",
                     check=False)  # fmt: skip
    assert_one_line_error(result, 1, "ghost", "train")
    # cleanup of a run that does not exist is not an error: onExit may run after a failed start.
    out = run_cli("cleanup", "--run-id", "ghost", "--store", "nas", "--data-dir", tmp_path)
    assert '"nas": []' in out.stdout


def test_vineyard_config_naming_a_socket_nobody_answers_on(tmp_path):
    config = tmp_path / "vineyard-config.yaml"
    config.write_text("Vineyard:\n  IPCSocket: nobody.sock\n")
    result = run_cli("train", "--source", "vineyard", "--data-dir", tmp_path,
                     env={"VINEYARD_CONFIG": str(config)}, check=False)  # fmt: skip
    assert_one_line_error(result, 1, str(tmp_path / "nobody.sock"), "VINEYARD_CONFIG")


@pytest.mark.parametrize("value", ["0", "-1", "x", "1e3", "10000000"])
def test_prepare_data_multiplier(value, tmp_path):
    result = run_cli("prepare-data", "--multiplier", value, "--data-dir", tmp_path, check=False)
    assert_one_line_error(result, 2, "multiplier")


def _fifo(path):
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "make, words",
    [
        # A valid config padded past the cap: only the cap refuses it.
        (lambda p: p.write_text("Vineyard:\n  IPCSocket: nobody.sock\n" + "#" * 70_000 + "\n"),
         ["larger than 64 KiB"]),
        (lambda p: p.write_bytes(bytes(range(256)) * 4), ["not UTF-8"]),
        (lambda p: p.write_text("Vineyard: [\n"), ["not YAML"]),
        (lambda p: p.write_text("Vineyard:\n  IPCSocket: 5\n"), ["no `Vineyard.IPCSocket`"]),
        (lambda p: p.write_text("Vineyard:\n  IPCSocket: [a, b]\n"), ["no `Vineyard.IPCSocket`"]),
        (lambda p: p.write_text("- Vineyard\n"), ["no `Vineyard.IPCSocket`"]),
        (_fifo, ["not a regular file"]),
    ],
    ids=["huge", "binary", "not-yaml", "number", "list", "top-list", "fifo"],
)  # fmt: skip
def test_a_malformed_vineyard_config_is_one_line(make, words, tmp_path):
    config = tmp_path / "vineyard-config.yaml"
    make(config)
    result = run_cli("evaluate", "--source", "vineyard", "--data-dir", tmp_path,
                     env={"VINEYARD_CONFIG": str(config)}, check=False, timeout=60)  # fmt: skip
    assert_one_line_error(result, 1, str(config), *words, "IPCSocket")


def test_vineyard_config_at_dev_zero_is_refused_unread(tmp_path):
    def limit_memory():  # were it read, it would fill memory: fail at 4 GiB instead
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    result = subprocess.run(
        [str(BIN / "evaluate"), "--source", "vineyard", "--data-dir", str(tmp_path)],
        env={**os.environ, "VINEYARD_CONFIG": "/dev/zero"},
        capture_output=True, text=True, timeout=60, preexec_fn=limit_memory,
    )  # fmt: skip
    assert_one_line_error(result, 1, "/dev/zero", "not a regular file")


def test_a_vineyard_size_that_is_not_a_size_is_refused(isolated_env, data_dir):
    env = {**isolated_env, "SHMPIPE_VINEYARD_SIZE": "junk"}
    try:
        # preprocess, which starts the embedded vineyardd (readers never do).
        result = run_cli("preprocess", "--sink", "vineyard", "--data-dir", data_dir, env=env,
                         check=False)  # fmt: skip
        assert_one_line_error(result, 1, "SHMPIPE_VINEYARD_SIZE", "'junk'", "8Gi")
        result = run_cli("vineyard-local", "start", "--size", "12 parsecs", env=isolated_env,
                         check=False)  # fmt: skip
        assert_one_line_error(result, 2, "--size", "'12 parsecs'", "8Gi")
        # vineyardd would have read either as "all of the machine's memory": none was started.
        assert not os.path.exists(os.path.join(env["SHMPIPE_VINEYARD_DIR"], "vineyard.sock"))
    finally:
        run_cli("vineyard-local", "stop", env=isolated_env, check=False)
