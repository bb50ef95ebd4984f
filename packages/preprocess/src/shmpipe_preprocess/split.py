"""The seed's train/test split: the same rows, in the raw table's order.

`train_test_split(X, y, test_size=0.2, random_state=42)` draws one permutation from
`RandomState(42)` and takes its first ceil(0.2 n) entries as the test rows and the rest as the
train rows (scikit-learn's ShuffleSplit). `split_in_table_order` makes the same draw, without
importing scikit-learn, and keeps each split's rows in ascending order, as they lie in the raw
table (a test holds them equal to scikit-learn's, sorted).

The rows are the seed's; only their order within a split differs from the shuffle's. Filling a
split in shuffled order would read every raw column at random, a cache miss per value; in table
order each column is read nearly in sequence (gather.py). Neither LinearRegression's fit nor
the MSE depends on the rows' order beyond rounding (tests hold the MSE to the seed's at 1e-9
relative; at M=300 it came out equal to the last digit, bench/results/2core-24g-fluid). A model
that learns from rows in sequence (mini-batches) shuffles them itself, as it would any table.
"""

import math

import numpy as np

TEST_SIZE = 0.2


def split_sizes(n: int) -> tuple[int, int]:
    """(train rows, test rows) of a split of `n` rows."""
    n_test = math.ceil(TEST_SIZE * n)
    return n - n_test, n_test


def split_in_table_order(kept: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of `kept` (ascending row numbers of the raw table), ascending."""
    _, n_test = split_sizes(len(kept))
    order = np.random.RandomState(seed).permutation(len(kept))
    is_test = np.zeros(len(kept), dtype=bool)
    is_test[order[:n_test]] = True
    return kept[~is_test], kept[is_test]
