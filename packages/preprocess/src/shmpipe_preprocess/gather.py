"""Filling the split straight into its destination, one raw column at a time.

The split's rows are in the seed's shuffled order, so gathering them (out[i] = column[rows[i]])
reads a column at random: a cache miss per value. Instead each column is read in ascending row
order, nearly sequentially, and each value is written to its place in the split: stores do not
hold the CPU up as loads do. Measured on this project's 2-core VM, preprocess's compute at M=2000
(46 columns, 20 million rows) takes 12.4-12.8 s this way against 16.1 s gathering.
"""

from typing import NamedTuple

import numpy as np

# Rows per chunk: the int64 staging buffer (2 MiB) stays in cache between take and cast, and
# each numpy call is long enough to run without the GIL beside the other threads.
CHUNK = 1 << 18


class ReadingOrder(NamedTuple):
    rows: np.ndarray  # the split's rows of the raw table, ascending
    places: np.ndarray  # where each of them goes in the split


def reading_order(rows: np.ndarray, source_rows: int) -> ReadingOrder:
    """The rows of one split (distinct row numbers below `source_rows`), sorted, with their
    places in the split; a linear pass instead of a sort."""
    place_of = np.full(source_rows, -1, dtype=np.int64)
    place_of[rows] = np.arange(len(rows))
    ascending = np.flatnonzero(place_of >= 0)
    return ReadingOrder(ascending, place_of[ascending])


def gather_column(source: np.ndarray, order: ReadingOrder, out: np.ndarray) -> None:
    """out[place] = source[row] for each (row, place) of `order`, converted to out's dtype,
    with no array the size of the split."""
    staging = np.empty(min(CHUNK, len(order.rows)), dtype=source.dtype)
    converted = np.empty(len(staging), dtype=out.dtype)
    for start in range(0, len(order.rows), CHUNK):
        stop = min(start + CHUNK, len(order.rows))
        chunk, values = staging[: stop - start], converted[: stop - start]
        # Row numbers come from the raw table itself, so bounds checks would only cost time.
        np.take(source, order.rows[start:stop], out=chunk, mode="clip")
        values[...] = chunk  # converting while scattering took twice as long
        out[order.places[start:stop]] = values
