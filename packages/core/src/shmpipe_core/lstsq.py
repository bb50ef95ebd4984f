"""Ordinary least squares with intercept (what `LinearRegression()` fits), from arrays in place.

One pass over the rows, a block at a time: each block is centred on its own means in a small
buffer and its cross-products (features and target together) are merged into the running ones
with the pairwise update (Chan, Golub and LeVeque), so X is never copied and partial results from
several processes merge exactly. The normal equations are then solved by Cholesky on the Gram
matrix scaled to unit diagonal; `solve` refuses where that loses digits (see COND_LIMIT).
"""

from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .metrics import booked
from .pages import drop_pages, populate_for_read, shared_mapping

# Rows per block: 16,384 rows of 46 float64 (6 MB) keep the per-block Python cost small against
# the copy, centring and product of the block (measured: 4,096 rows were slower, 65,536 no faster).
BLOCK_ROWS = 1 << 14
# Rows per stretch mapped in and out at once: one madvise per column and stretch.
DROP_ROWS = 1 << 17
# The normal equations' relative error in the coefficients grows like cond(C) * eps, C the Gram
# matrix scaled to unit diagonal (cond(X)^2 where QR or SVD get cond(X)): past 1e6 that error
# could pass 2e-10, within reach of the 1e-9 to which the tests hold the MSE to the seed's.
COND_LIMIT = 1e6


@dataclass
class Moments:
    """Row count, column means and centred cross-products of [X | y]."""

    rows: int
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def empty(cls, columns: int) -> "Moments":
        return cls(0, np.zeros(columns), np.zeros((columns, columns)))

    def merge(self, other: "Moments") -> "Moments":
        rows = self.rows + other.rows
        if rows == 0:
            return self
        delta = other.mean - self.mean
        weight = self.rows * other.rows / rows
        return Moments(
            rows,
            self.mean + delta * (other.rows / rows),
            self.scatter + other.scatter + np.outer(delta, delta) * weight,
        )


class IllConditioned(Exception):
    """The normal equations would lose digits here; the reason says why."""


def moments(X: np.ndarray, y: np.ndarray, phases=None) -> Moments:
    """The moments of the rows of X (rows x features) and y, read in place, never written.

    A stretch of rows at a time, its pages are mapped in at once, then unmapped once read (a
    mapping's data stays with its owner), so the process holds one stretch of the split at most.
    `phases`: a StepMetrics, to book that mapping as `page_in` apart from `compute`."""
    rows, features = X.shape
    buffer = np.empty((min(BLOCK_ROWS, max(rows, 1)), features + 1), order="F")
    total = Moments.empty(features + 1)
    drop = shared_mapping(X) and shared_mapping(y)
    # One BLAS thread: a 46-column product is too small to share, and threads waiting on a
    # busy core made the whole fit 3-10x slower (bench/README.md).
    with threadpool_limits(limits=1, user_api="blas"):
        for begin in range(0, rows, DROP_ROWS):
            total = _stretch(X, y, begin, min(rows, begin + DROP_ROWS), buffer, total, drop, phases)
    return total


def _stretch(X, y, begin: int, end: int, buffer, total: "Moments", drop: bool, phases):
    """`total` merged with the moments of rows begin:end, mapped in and (if `drop`) out."""
    features = X.shape[1]
    with booked(phases, "page_in"):
        _pages(populate_for_read, X, y, begin, end)
    # NaN or infinity in the input only makes the moments non-finite, which `solve` refuses.
    with booked(phases, "compute"), np.errstate(all="ignore"):
        for start in range(begin, end, BLOCK_ROWS):
            stop = min(end, start + BLOCK_ROWS)
            block = buffer[: stop - start]
            block[:, :features] = X[start:stop]
            block[:, features] = y[start:stop]
            mean = block.mean(axis=0)
            block -= mean
            total = total.merge(Moments(stop - start, mean, block.T @ block))
    if drop:
        with booked(phases, "page_in"):
            _pages(drop_pages, X, y, begin, end)
    return total


def _pages(advise, X: np.ndarray, y: np.ndarray, start: int, stop: int) -> None:
    if X.flags.f_contiguous:
        for j in range(X.shape[1]):
            advise(X[start:stop, j])
    elif X.flags.c_contiguous:
        advise(X[start:stop])
    if y.flags.c_contiguous:
        advise(y[start:stop])


def solve(m: Moments) -> tuple[np.ndarray, float]:
    """Coefficients and intercept from the moments; IllConditioned where Cholesky would not hold
    the digits (a constant or collinear column, or cond(C) past COND_LIMIT)."""
    if not np.isfinite(m.scatter).all() or not np.isfinite(m.mean).all():
        raise IllConditioned("the cross-products overflowed or hold NaN")
    features = m.scatter.shape[0] - 1
    gram, rhs = m.scatter[:features, :features], m.scatter[:features, features]
    scale = np.sqrt(np.diag(gram))
    if m.rows <= features or not (scale > 0).all():
        raise IllConditioned("fewer rows than features, or a constant column")
    scaled = gram / np.outer(scale, scale)
    cond = float(np.linalg.cond(scaled))
    if not cond <= COND_LIMIT:
        raise IllConditioned(f"condition number {cond:.3g} of the scaled Gram matrix")
    try:
        lower = np.linalg.cholesky(scaled)
    except np.linalg.LinAlgError:
        raise IllConditioned("the Gram matrix is not positive definite") from None
    z = np.linalg.solve(lower.T, np.linalg.solve(lower, rhs / scale))
    coef = z / scale
    return coef, float(m.mean[features] - m.mean[:features] @ coef)
