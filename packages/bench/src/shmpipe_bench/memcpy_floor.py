"""The physical floor of a handoff: one in-memory copy of the split's bytes, into pre-faulted
memory (`floor_s`) and, for context, into fresh memory (`fresh_s`, page faults included), timed
in the same run as the pipelines."""

import json
import subprocess
import sys
import time

import numpy as np

# Source and destination are both allocated: above this, copy a buffer of this size repeatedly
# (bandwidth is the same once far beyond the CPU caches) so M=2000 does not need 2 x 7 GB more.
MAX_BUFFER_BYTES = 1 << 30


def _copy(src: np.ndarray, dst: np.ndarray, nbytes: int) -> float:
    count = src.size
    remaining = max(1, nbytes // 8)
    start = time.perf_counter()
    while remaining > 0:
        n = min(remaining, count)
        np.copyto(dst[:n], src[:n])
        remaining -= n
    return time.perf_counter() - start


def memcpy_seconds(sizes: list[int]) -> dict[str, float]:
    """Seconds to copy arrays of these byte sizes once each with np.copyto: `floor_s` into a
    pre-faulted destination (a store's destination is mapped memory too), `fresh_s` into new
    memory."""
    floor = fresh = 0.0
    for nbytes in sizes:
        count = max(1, min(nbytes, MAX_BUFFER_BYTES) // 8)
        src = np.ones(count)
        dst = np.empty(count)
        # First touch of dst: page faults included. A capped buffer scales to the full size.
        first = min(nbytes, count * 8)
        fresh += _copy(src, dst, first) * nbytes / max(first, 1)
        floor += _copy(src, dst, nbytes)
        del src, dst
    return {"floor_s": floor, "fresh_s": fresh}


def memcpy_seconds_in_child(sizes: list[int]) -> dict[str, float]:
    """`memcpy_seconds` in a child process. Linux carries a process's peak RSS across exec, and
    subprocess starts steps by vfork + exec from the benchmark's own memory: had the benchmark
    allocated these arrays itself, every later step would report at least their size as its peak."""
    args = [sys.executable, "-m", __name__, *map(str, sizes)]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


if __name__ == "__main__":
    print(json.dumps(memcpy_seconds([int(a) for a in sys.argv[1:]])))
