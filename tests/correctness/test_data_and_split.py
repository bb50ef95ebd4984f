"""The raw table is the seed's, bit for bit, and the split holds scikit-learn's rows, in the raw
table's order."""

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from shmpipe_core import raw
from shmpipe_core.dataset import COLUMNS, OUTLIER_COLUMN, ROWS_PER_MULTIPLIER, SEED, raw_path
from shmpipe_core.stores import open_store
from shmpipe_core.synthetic import generate
from shmpipe_preprocess.gather import CHUNK, gather_column
from shmpipe_preprocess.split import split_in_table_order, split_sizes
from sklearn.model_selection import train_test_split

from tests.support.ci import require
from tests.support.processes import assert_one_line_error, run_cli

SEED_COLUMNS = Path(__file__).parents[3] / "shared" / "seed" / "housing-columns.csv"


def test_columns_are_the_seed_columns():
    require(SEED_COLUMNS.exists(), f"{SEED_COLUMNS} (the seed's column list) is missing")
    with open(SEED_COLUMNS) as f:
        seed = [(r["column"], int(r["low"]), int(r["high_exclusive"])) for r in csv.DictReader(f)]
    assert [(c.name, c.low, c.high_exclusive) for c in COLUMNS] == seed


def test_raw_file_holds_the_seeds_draws(raw_data_dir):
    rng = np.random.default_rng(42)
    with pa.memory_map(str(raw_path(raw_data_dir, 1))) as source:
        table = pa.ipc.open_file(source).read_all()
    assert table.num_rows == 10_000
    assert table.column_names == [c.name for c in COLUMNS]
    for column in COLUMNS:
        expected = rng.integers(column.low, column.high_exclusive, size=10_000)
        np.testing.assert_array_equal(table.column(column.name).to_numpy(), expected)


@pytest.mark.parametrize("n", [2, 7, 10, 9_531, 100_003])
def test_split_holds_train_test_splits_rows_in_table_order(n):
    kept = np.sort(np.random.default_rng(n).choice(2 * n, size=n, replace=False))
    train_rows, test_rows = split_in_table_order(kept.copy(), 42)
    want_train, want_test = train_test_split(kept, test_size=0.2, random_state=42)
    np.testing.assert_array_equal(train_rows, np.sort(want_train))
    np.testing.assert_array_equal(test_rows, np.sort(want_test))
    assert (len(train_rows), len(test_rows)) == split_sizes(n)


@pytest.mark.parametrize("n", [1, 10, 2 * CHUNK + 17])
def test_gathered_column_holds_each_rows_value(n):
    """Each value lands at its row's place, as float64, also across chunk boundaries."""
    source = np.random.default_rng(n).integers(-(10**12), 10**12, size=2 * n)
    kept = np.flatnonzero(np.random.default_rng(n + 1).random(2 * n) < 0.6)
    for rows in split_in_table_order(kept, 42):
        out = np.full(len(rows), np.nan)
        gather_column(source, rows, out)
        np.testing.assert_array_equal(out, source[rows].astype(np.float64))


def test_generate_is_deterministic_and_bounded():
    a, b = generate(1), generate(1)
    for column in COLUMNS:
        np.testing.assert_array_equal(a[column.name], b[column.name])
        assert a[column.name].dtype == np.int64
        assert a[column.name].min() >= column.low
        assert a[column.name].max() < column.high_exclusive


def _raw_keeping(data_dir, kept: int) -> dict[str, np.ndarray]:
    """Rewrite the data dir's raw table so that only its first `kept` rows are not outliers."""
    table = generate(1)
    table[OUTLIER_COLUMN][:] = 4801  # just above the seed's `GrLivArea > 4800`
    table[OUTLIER_COLUMN][:kept] = 4800  # kept: the rule is strictly above
    path = raw_path(data_dir, 1)
    path.unlink()  # a hard link to the shared table: write a file of this test's own
    raw.write(path, ROWS_PER_MULTIPLIER, table.items())
    return table


@pytest.mark.parametrize("kept", [0, 1])
def test_a_table_left_with_fewer_than_two_rows_is_refused(kept, data_dir):
    """scikit-learn's train_test_split refuses 0 or 1 rows (an empty train set): so does
    preprocess, in one line, and it publishes nothing (train would fail unexplained)."""
    _raw_keeping(data_dir, kept)
    result = run_cli("preprocess", "--sink", "nas", "--data-dir", data_dir, check=False)
    assert_one_line_error(result, 1, f"keeps {kept} row(s)", "GrLivArea", "at least 2")
    assert not (data_dir / "runs").exists() or not any((data_dir / "runs").rglob("*.arrow"))


def test_two_rows_split_one_and_one_as_scikit_learn_does(data_dir):
    table = _raw_keeping(data_dir, 2)
    run_cli("preprocess", "--sink", "nas", "--data-dir", data_dir)
    arrays, _ = open_store("nas", data_dir).read("default", ["y_train", "y_test"])
    want_train, want_test = train_test_split(
        table["SalePrice"][:2], test_size=0.2, random_state=SEED
    )
    np.testing.assert_array_equal(arrays["y_train"], want_train.astype(np.float64))
    np.testing.assert_array_equal(arrays["y_test"], want_test.astype(np.float64))
