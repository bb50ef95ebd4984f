"""Filling a split straight into its destination, one raw column at a time."""

import numpy as np

# Rows per chunk: the staging buffer stays in cache; each call runs long without the GIL.
CHUNK = 1 << 18


def gather_column(source: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """out[i] = source[rows[i]], converted to out's dtype, with no array the size of the split."""
    staging = np.empty(min(CHUNK, len(rows)), dtype=source.dtype)
    for start in range(0, len(rows), CHUNK):
        stop = min(start + CHUNK, len(rows))
        chunk = staging[: stop - start]
        # Row numbers come from the raw table itself, so bounds checks would only cost time.
        np.take(source, rows[start:stop], out=chunk, mode="clip")
        out[start:stop] = chunk
