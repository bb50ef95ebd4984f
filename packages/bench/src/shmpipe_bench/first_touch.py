"""Touching the machine's free memory once before measuring.

A VM may back guest memory lazily: the first write to a guest page after boot makes the host
allocate it (on the 2-core development VM, touching 5.5 GB took 13 s the first time after boot and
0.7-5 s afterwards). Whichever variant ran first would pay that for the others. The benchmark
therefore writes to most of the free memory once, in a child process that then exits (so the
memory goes back, and the benchmark's own peak RSS, a floor under every step's, stays small).
Bounded: it leaves `MARGIN_BYTES` of what the kernel calls available untouched, for the other
processes on the machine.
"""

import json
import mmap
import subprocess
import sys
import time

from shmpipe_core.pages import MADV_POPULATE_WRITE

from .machine_info import meminfo_bytes

MARGIN_BYTES = 3 << 30
CHUNK_BYTES = 256 << 20


def touch(nbytes: int) -> dict:
    """Write to `nbytes` of new anonymous memory, chunk by chunk, holding all of it until done."""
    chunks, touched = [], 0
    start = time.perf_counter()
    while touched + CHUNK_BYTES <= nbytes:
        chunk = mmap.mmap(-1, CHUNK_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        try:
            chunk.madvise(MADV_POPULATE_WRITE)
        except OSError:  # before Linux 5.14: one write per page does the same
            for offset in range(0, CHUNK_BYTES, mmap.PAGESIZE):
                chunk[offset] = 1
        chunks.append(chunk)
        touched += CHUNK_BYTES
    seconds = time.perf_counter() - start
    for chunk in chunks:
        chunk.close()
    return {"bytes": touched, "seconds": round(seconds, 3)}


def touch_free_memory(limit_bytes: int | None = None) -> dict:
    """Touch what is available less the margin (at most `limit_bytes`), in a child process; the
    bytes touched, seconds, and what was available before."""
    available = meminfo_bytes("MemAvailable")
    target = max(0, available - MARGIN_BYTES)
    if limit_bytes is not None:
        target = min(target, limit_bytes)
    args = [sys.executable, "-m", __name__, str(target)]
    result = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return result | {"available_before_bytes": available, "margin_bytes": MARGIN_BYTES}


if __name__ == "__main__":
    print(json.dumps(touch(int(sys.argv[1]))))
