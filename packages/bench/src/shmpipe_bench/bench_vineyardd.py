"""The vineyardd the benchmark's vineyard variants run on: one per run, started before it, untimed
(in a cluster it is already up), and stopped after it.

One per run, because vineyardd keeps the memory a run used after the run's objects are deleted: its
arena is one memfd of the whole size, and a delete hands the blob back to dlmalloc but leaves its
pages in the memfd unless the delete asks for `memory_trim` (then vineyardd madvises them away with
MADV_REMOVE: v6d v0.24.2 src/server/memory/memory.cc, `BulkStoreBase::Delete`), which `cleanup`
does not (tests/reliability/test_vineyard_memory.py). On a 24 GiB machine at M=2000, the 7-8 GB a
vineyard run left behind would sit beside the seed's 17 GB train step of the next NAS run.
Stopping it after each run leaves every variant the same free memory.

Two configurations:
- `plain`: as `vineyard-local` starts it; shared memory is faulted in as the steps first write it.
- `fluid`: as Fluid's VineyardRuntime starts it, with `--reserve_memory`: Fluid's chart passes the
  flag when the worker option `vineyardd.reserve.memory` is "true" (charts/vineyard/templates/
  worker/statefulset.yaml), which is its default (pkg/ddc/vineyard/const.go,
  DefaultWorkerReserveMemoryValue; charts/vineyard/values.yaml). In v6d the flag maps the arena
  with MAP_POPULATE (src/server/memory/malloc.cc, FLAGS_reserve_memory in mmap_buffer): the whole
  size is faulted in at start-up, which the benchmark times and reports.
"""

import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core import vineyardd

CONFIGS = {"plain": [], "fluid": ["--reserve_memory"]}
# The quota the VineyardRuntime gets for a DATA_MULTIPLIER (deploy/vineyard-quota.sh; a test holds
# the two equal): 4 MiB per multiplier and 256 MiB, at least 500 MiB and whole GiB past 999 MiB,
# the quantities Fluid's chart sizes the worker for. A run's split is 3.35 MiB per multiplier
# (46 float64 per row), the seed's frames 3.50 MiB (45 int64 columns plus an int64 index for X
# and for y): `handoff_bytes` in bench/results.
MIB_PER_MULTIPLIER = 4
BASE_MIB = 256


def quota_bytes(multiplier: int) -> int:
    """The shared memory a run at `multiplier` gets: the VineyardRuntime quota the Makefile
    sets for that size (Fluid reserves its whole quota)."""
    mib = max(multiplier * MIB_PER_MULTIPLIER + BASE_MIB, 500)
    if mib > 999:
        mib = -(-mib // 1024) * 1024
    return mib << 20


@dataclass(frozen=True)
class Daemon:
    socket: str
    start_s: float  # from launch until it answers on its socket
    pid: int


@contextmanager
def per_run(config: str, size: int):
    """Start vineyardd in `config`; yields its Daemon, stops it on exit."""
    # A short path: unix socket paths are limited to 107 bytes.
    directory = Path(tempfile.mkdtemp(prefix="shmpipe-bench-"))
    try:
        start = time.perf_counter()
        process = vineyardd.start(
            directory / "vineyard.sock",
            str(size),
            vineyardd.local_meta() + CONFIGS[config],
            directory / "vineyardd.log",
            timeout_s=600,  # reserving many GiB takes a while on a lazily backed VM
        )
        seconds = time.perf_counter() - start
        try:
            yield Daemon(str(directory / "vineyard.sock"), seconds, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
