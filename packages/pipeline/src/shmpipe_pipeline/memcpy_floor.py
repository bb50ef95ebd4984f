"""The physical floor of a handoff: one in-memory copy of the bytes the handoff moves.

A handoff through shared memory cannot beat writing the split once; reading it zero-copy is free.
So one copy of the split's bytes, from memory to memory, is what a perfect handoff costs on this
machine. Timed in the same run as the pipelines, so machine load affects both alike.
"""

import time

import numpy as np

# Source and destination are both allocated: above this, copy a buffer of this size repeatedly
# (bandwidth is the same once far beyond the CPU caches) so M=2000 does not need 2 x 7 GB more.
MAX_BUFFER_BYTES = 1 << 30


def memcpy_seconds(sizes: list[int]) -> float:
    """Seconds to copy arrays of these byte sizes once each (np.copyto, destination pre-faulted,
    so page faults are not counted: a store's destination is mapped memory too)."""
    total = 0.0
    for nbytes in sizes:
        count = max(1, min(nbytes, MAX_BUFFER_BYTES) // 8)
        src = np.ones(count)
        dst = np.zeros(count)
        dst.fill(1.0)  # fault every page in before the clock runs
        remaining = max(1, nbytes // 8)
        start = time.perf_counter()
        while remaining > 0:
            n = min(remaining, count)
            np.copyto(dst[:n], src[:n])
            remaining -= n
        total += time.perf_counter() - start
        del src, dst
    return total
