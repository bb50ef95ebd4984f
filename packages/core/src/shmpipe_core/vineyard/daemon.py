"""Starting a vineyardd process and waiting until it serves its socket.

One launcher for every vineyardd this project starts: the embedded one of local runs, the
instances of the two-node stand-in (etcd metadata, RPC on), and those the tests start.
"""

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

from .. import faults
from ..errors import StepError
from .client import answers


def binary() -> str:
    """vineyardd from the vineyard-bdist wheel, else one on PATH."""
    spec = importlib.util.find_spec("vineyard")
    if spec and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bdist" / "vineyardd"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("vineyardd")
    if found:
        return found
    raise StepError(
        "no vineyard is configured and no vineyardd binary is installed to start one: mount "
        "Fluid's vineyard dataset at /var/run/vineyard, set VINEYARD_IPC_SOCKET, or install "
        "vineyard-bdist"
    )


def local_meta() -> list[str]:
    """Flags for a single vineyardd: metadata in its own memory, no RPC port (no TCP at all).

    RPC is on by default, on port 9600 (packages/core/NOTES.md, vineyardd); local metadata
    needs no etcd."""
    return ["--meta=local", "--rpc=false"]


def etcd_meta(endpoint: str, prefix: str, rpc_port: int) -> list[str]:
    """Flags for one of several vineyardd sharing metadata through etcd, fetching over RPC."""
    return [
        "--meta=etcd",
        f"--etcd_endpoint={endpoint}",
        f"--etcd_prefix={prefix}",
        f"--rpc_socket_port={rpc_port}",
    ]


def start(
    socket: Path,
    size: str,
    meta: list[str],
    log: Path,
    timeout_s: float = 30.0,
    detach: bool = False,
    pid_file: Path | None = None,
) -> subprocess.Popen:
    """Start vineyardd on `socket` and return once a client can connect to it.

    `detach`: a session of its own, so it outlives the process group that started it (the
    embedded vineyardd serves the steps that come after the one that started it). Such a daemon
    gets no signal of the starter's: `pid_file` records its pid the moment it exists, and a start
    cut short (SIGINT, SIGTERM, a timeout) ends the daemon and removes the file, so nothing is
    left running that `vineyard-local stop` could not find.
    """
    socket = Path(socket)
    socket.unlink(missing_ok=True)
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [binary(), f"--socket={socket}", f"--size={size}", *meta],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
    try:
        if pid_file is not None:
            Path(pid_file).write_text(str(process.pid))
        faults.point("vineyardd-starting")
        wait_answering(socket, process, log, timeout_s)
    except BaseException:
        process.kill()
        process.wait()
        if pid_file is not None:
            Path(pid_file).unlink(missing_ok=True)
        raise
    return process


def wait_answering(socket: Path, process: subprocess.Popen, log: Path, timeout_s: float) -> None:
    """Return once the vineyardd `process` serves `socket`; StepError if it exits or the time
    is up. A daemon starting may listen before it answers: with --reserve_memory (Fluid's) it
    faults its whole arena in first, many seconds for many GiB, so a socket that accepts and
    does not answer yet is waited for here, not taken for a hung daemon."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if answers(str(socket)):
                return
        except StepError:
            pass  # listening, not answering yet: the deadline decides
        if process.poll() is not None:
            raise StepError(f"vineyardd exited with code {process.returncode} at start: see {log}")
        if time.monotonic() > deadline:
            raise StepError(f"vineyardd did not answer on {socket} within {timeout_s:.0f} s")
        time.sleep(0.05)
