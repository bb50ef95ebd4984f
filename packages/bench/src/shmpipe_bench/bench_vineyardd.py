"""The vineyardd a vineyard variant runs on: one per run, started before it (untimed: in a
cluster it is up already) and stopped after it, so every variant finds the same free memory
(vineyardd keeps a deleted run's pages). `fluid` starts it as Fluid's VineyardRuntime does, with
`--reserve_memory`; bench/README.md says why both."""

import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shmpipe_core.vineyard import daemon as vineyardd

CONFIGS = {"plain": [], "fluid": ["--reserve_memory"]}
# The quota deploy/vineyard-quota.sh gives the VineyardRuntime for a DATA_MULTIPLIER (a test
# holds the two equal): whole GiB past 999 MiB, the quantities Fluid's chart sizes the worker for.
MIB_PER_MULTIPLIER = 4
BASE_MIB = 256


def quota_bytes(multiplier: int, partitions: int = 1) -> int:
    """The VineyardRuntime quota for `multiplier` (Fluid reserves all of it); with partitions,
    each node's: the same rule for its share of the rows (rounded up), so every node keeps the
    whole run's headroom while its split shrinks."""
    share = -(-multiplier // partitions)
    mib = max(share * MIB_PER_MULTIPLIER + BASE_MIB, 500)
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
