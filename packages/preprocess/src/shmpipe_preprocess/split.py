"""The seed's train/test split (`train_test_split(test_size=0.2, random_state=42)`): the same
draw from `RandomState(42)` without scikit-learn, each split's rows kept in the raw table's order
so filling it reads each column nearly in sequence. The fit and the MSE do not depend on the
order beyond rounding."""

import math

import numpy as np

TEST_SIZE = 0.2


def split_sizes(n: int) -> tuple[int, int]:
    """(train rows, test rows) of a split of `n` rows."""
    n_test = math.ceil(TEST_SIZE * n)
    return n - n_test, n_test


def row_type(rows: int) -> type:
    return np.int32 if rows < 2**31 else np.int64


def split_in_table_order(kept: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows) of `kept` (ascending row numbers of the raw table), ascending."""
    _, n_test = split_sizes(len(kept))
    # permutation(n) is a shuffled arange; the draws ignore its dtype, so int32 halves it.
    order = np.arange(len(kept), dtype=row_type(len(kept)))
    np.random.RandomState(seed).shuffle(order)
    is_test = np.zeros(len(kept), dtype=bool)
    is_test[order[:n_test]] = True
    return kept[~is_test], kept[is_test]
