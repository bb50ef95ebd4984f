"""prepare-data writes the same bytes pyarrow writes from the whole table, while holding about
one column of it in memory."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from shmpipe_core.dataset import COLUMN_NAMES, COLUMNS, ROWS_PER_MULTIPLIER, raw_path
from shmpipe_core.raw import SCHEMA
from shmpipe_core.synthetic import generate

from tests.support.processes import BIN, run_cli


def pyarrow_file(path, multiplier: int) -> None:
    """The raw file as pyarrow writes it from the fully generated columns, in one record batch."""
    table = generate(multiplier)
    arrays = [
        pa.Array.from_buffers(pa.int64(), len(table[n]), [None, pa.py_buffer(table[n])])
        for n in COLUMN_NAMES
    ]
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        writer.write_batch(pa.record_batch(arrays, schema=SCHEMA))


@pytest.mark.parametrize("multiplier", [1, 2, 7])
def test_raw_file_is_what_pyarrow_writes_from_the_whole_table(multiplier, tmp_path):
    run_cli("prepare-data", "--multiplier", multiplier, "--data-dir", tmp_path / "data")
    pyarrow_file(tmp_path / "reference.arrow", multiplier)
    written = raw_path(tmp_path / "data", multiplier).read_bytes()
    assert written == (tmp_path / "reference.arrow").read_bytes()
    assert [p.name for p in raw_path(tmp_path / "data", multiplier).parent.iterdir()] == [
        raw_path(tmp_path / "data", multiplier).name
    ], "a temp file was left beside the raw file"


# Forks the command from a small process and reports the child's exit code and peak RSS from
# wait4. Not from pytest: Linux keeps the pre-exec memory's high-water mark in the child's
# ru_maxrss (fs/exec.c, exec_mmap: setmax_mm_hiwater_rss), so a child forked from the test
# process would report at least the test process's own size.
MEASURE = """import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024]), flush=True)
"""


def test_prepare_data_memory_stays_near_one_column(tmp_path):
    """Peak RSS of prepare-data at M=100 (a 368 MB table) stays well below the table's size.

    A memory bound, not a timing: the cluster's prepare-data Job (deploy/prepare-data-job.yaml)
    has a fixed memory limit, and deploy/README runs it at M=2000 (a 7.4 GB table). Holding the
    table in memory grows the peak by 3.7 MB per multiplier; holding one column, by 80 kB.
    """
    multiplier = 100
    table_bytes = multiplier * ROWS_PER_MULTIPLIER * len(COLUMNS) * 8
    step = [BIN / "prepare-data", "--multiplier", str(multiplier), "--data-dir", tmp_path]
    result = subprocess.run(
        [sys.executable, "-S", "-c", MEASURE, *map(str, step)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    *output, measured = result.stdout.strip().splitlines()
    code, peak = json.loads(measured)
    assert code == 0, result.stderr
    assert json.loads(output[-1])["bytes"] > table_bytes
    # The interpreter with numpy and pyarrow imported takes about 70 MB before any data.
    message = f"peak RSS {peak / 2**20:.0f} MiB for a {table_bytes / 2**20:.0f} MiB table"
    assert peak < table_bytes / 3, message
    with pa.memory_map(str(raw_path(tmp_path, multiplier))) as source:
        batch = pa.ipc.open_file(source).get_batch(0)
    rng = np.random.default_rng(42)
    for column in COLUMNS:
        expected = rng.integers(column.low, column.high_exclusive, size=batch.num_rows)
        np.testing.assert_array_equal(batch.column(column.name).to_numpy(), expected)
