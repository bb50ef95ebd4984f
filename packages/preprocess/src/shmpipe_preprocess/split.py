"""The seed's train/test split, reproduced row for row without importing scikit-learn.

`train_test_split(X, y, test_size=0.2, random_state=42)` draws one permutation from
`RandomState(42)` and takes its first ceil(0.2 n) entries as the test rows and the rest as the
train rows (scikit-learn's ShuffleSplit). A test holds this equal to scikit-learn's own result.
"""

import math

import numpy as np

TEST_SIZE = 0.2


def split_rows(kept: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the raw table, in split order: (train rows, test rows)."""
    n = len(kept)
    n_test = math.ceil(TEST_SIZE * n)
    order = np.random.RandomState(seed).permutation(n)
    np.take(kept, order, out=order)  # reuse the permutation's memory: n can be 20 million
    return order[n_test:], order[:n_test]
