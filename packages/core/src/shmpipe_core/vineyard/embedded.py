"""An embedded vineyardd for runs outside a cluster, from the vineyard-bdist wheel.

It listens on a unix socket in a directory only this user can enter (0700): the directory is what
keeps other users out, since vineyardd makes its socket 0777 (packages/core/NOTES.md,
vineyardd). RPC is off, so no TCP port is ever opened
(`vineyardd.local_meta`). It outlives the step that started it, so the next step, a new process,
finds the data; `vineyard-local stop` ends it.
"""

import fcntl
import os
import shutil
import signal
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import StepError
from ..sizes import check_size
from . import daemon as vineyardd
from .client import answers, try_connect

SIZE_ENV = "SHMPIPE_VINEYARD_SIZE"
DIR_ENV = "SHMPIPE_VINEYARD_DIR"


def runtime_dir() -> Path:
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.access(base, os.W_OK):
        return Path(base) / "shmpipe"
    # In a world-writable temp dir another user may take our name first: then a directory
    # under our home serves instead (only ours can be there), rather than no vineyardd at all.
    shared = Path(tempfile.gettempdir()) / f"shmpipe-{os.getuid()}"
    if _unsafe(shared) is None:
        return shared
    return Path.home() / ".cache" / "shmpipe-vineyard"


def _unsafe(path: Path) -> str | None:
    """Why `path` may not hold the daemon's socket, or None when it is absent or ours alone."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a directory"
    if info.st_uid != os.getuid():
        return f"belongs to another user (uid {info.st_uid})"
    if info.st_mode & 0o077:
        return f"is open to other users (mode {stat.S_IMODE(info.st_mode):o}, not 700)"
    return None


def private_dir() -> Path:
    """The runtime directory: created here with mode 0700, or already ours, private and real.

    Never chmod-ed or followed: a directory others share, or a link to one, is refused.
    """
    path = runtime_dir()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # ours from before, or checked below
    except OSError as e:
        raise StepError(
            f"cannot create {path}, the embedded vineyardd's directory ({e.strerror}): set "
            f"{DIR_ENV} to a path you can create"
        ) from None
    reason = _unsafe(path)
    if reason is not None:
        raise StepError(
            f"{path} {reason}: the embedded vineyardd needs a directory only you can enter; set "
            f"{DIR_ENV} to a new path (shmpipe creates it with mode 700)"
        )
    return path


SOCKET = "vineyard.sock"
# A unix socket's path holds at most 107 bytes (sun_path is 108, with its NUL).
SOCKET_PATH_MAX = 107


# A partitioned run started locally puts partition k>0 on its own vineyardd, a stand-in for
# another node's, in a folder of its own inside the private directory.
NODE = "node-{}"


def node_dir(node: int = 0) -> Path:
    return runtime_dir() if node == 0 else runtime_dir() / NODE.format(node)


def socket_path(node: int = 0) -> Path:
    return node_dir(node) / SOCKET


def nodes() -> list[int]:
    """The nodes that have a folder (node 0 always): their daemons may or may not run."""
    try:
        names = os.listdir(runtime_dir())
    except OSError:
        names = []
    prefix = NODE.format("")
    numbers = (n[len(prefix) :] for n in names if n.startswith(prefix))
    return [0, *sorted(k for k in map(int, filter(str.isdigit, numbers)) if k > 0)]


def default_size() -> str:
    """Three quarters of /dev/shm: room for the largest split without starving the machine."""
    if os.environ.get(SIZE_ENV):
        # vineyardd would read a value it does not know as all of memory (sizes.py).
        check_size(os.environ[SIZE_ENV], SIZE_ENV)
        return os.environ[SIZE_ENV]
    total = shutil.disk_usage("/dev/shm").total if os.path.isdir("/dev/shm") else 4 << 30
    return str(total * 3 // 4)


@contextmanager
def _locked(directory: Path):
    # Two steps starting at once must not start two daemons on one socket.
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _serves(pid: int, directory: Path) -> bool:
    """Whether process `pid` is vineyard's binary serving our socket (a pid may have gone to
    another process since the daemon died: that one is not ours to signal)."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().decode(errors="replace").split("\0")
    except OSError:
        return False
    return os.path.basename(exe) == "vineyardd" and f"--socket={directory / SOCKET}" in argv


def _read_pid(directory: Path) -> int | None:
    """Our vineyardd's pid: vineyardd.pid's, else (the file lost) the one /proc shows serving
    our socket, so start, stop and status agree on whether it runs."""
    try:
        recorded = [int((directory / "vineyardd.pid").read_text())]
    except (OSError, ValueError):
        recorded = []
    others = (int(n) for n in os.listdir("/proc") if n.isdigit())
    return next((pid for pid in (*recorded, *others) if _serves(pid, directory)), None)


def ensure_running(size: str | None = None, timeout_s: float = 30.0, node: int = 0) -> str:
    """The embedded vineyardd's socket (node `node`'s), starting the daemon if none answers."""
    directory = private_dir()
    if node:
        directory = directory / NODE.format(node)
        directory.mkdir(mode=0o700, exist_ok=True)  # inside the private directory: ours alone
    sock = directory / SOCKET
    if len(os.fsencode(sock)) > SOCKET_PATH_MAX:
        raise StepError(
            f"the embedded vineyardd's socket path {sock} is {len(os.fsencode(sock))} bytes, "
            f"more than the {SOCKET_PATH_MAX} a unix socket path can hold: set {DIR_ENV} to a "
            "shorter path"
        )
    with _locked(directory):
        if answers(str(sock)):
            return str(sock)
        vineyardd.start(
            sock,
            size or default_size(),
            vineyardd.local_meta(),
            directory / "vineyardd.log",
            timeout_s=timeout_s,
            detach=True,  # not killed with the step's process group
            pid_file=directory / "vineyardd.pid",
        )
        return str(sock)


def stop() -> bool:
    """Stop every embedded vineyardd (node 0 and the nodes of partitioned runs)."""
    return any([_stop(node_dir(node)) for node in nodes()])


def _stop(directory: Path) -> bool:
    pid = _read_pid(directory)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    (directory / "vineyardd.pid").unlink(missing_ok=True)
    (directory / SOCKET).unlink(missing_ok=True)
    return True


def sockets() -> list[str]:
    """The sockets of the embedded vineyardd instances that answer, node 0's first."""
    return [str(socket_path(n)) for n in nodes() if answers(str(socket_path(n)))]


def status() -> dict:
    sock = socket_path()
    client = try_connect(str(sock))
    if client is None:
        return {"running": False, "socket": str(sock)}
    st = client.status
    client.close()
    return {
        "running": True,
        "socket": str(sock),
        "pid": _read_pid(runtime_dir()),
        "memory_usage": st.memory_usage,
        "memory_limit": st.memory_limit,
    }
