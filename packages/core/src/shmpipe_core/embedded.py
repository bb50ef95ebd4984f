"""An embedded vineyardd for runs outside a cluster, from the vineyard-bdist wheel.

It listens on a unix socket in a directory only this user can enter (0700), with RPC off, so no
TCP port is ever opened. It outlives the step that started it, so the next step, a new process,
finds the data; `vineyard-local stop` ends it.
"""

import argparse
import fcntl
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .cli import Parser
from .errors import StepError, UsageError

SIZE_ENV = "SHMPIPE_VINEYARD_SIZE"
DIR_ENV = "SHMPIPE_VINEYARD_DIR"


def runtime_dir() -> Path:
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV])
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.access(base, os.W_OK):
        return Path(base) / "shmpipe"
    return Path(f"/tmp/shmpipe-{os.getuid()}")


def private_dir() -> Path:
    path = runtime_dir()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise StepError(f"{path} belongs to another user: set {DIR_ENV} to a directory of yours")
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def socket_path() -> Path:
    return runtime_dir() / "vineyard.sock"


def default_size() -> str:
    """Three quarters of /dev/shm: room for the largest split without starving the machine."""
    if os.environ.get(SIZE_ENV):
        return os.environ[SIZE_ENV]
    total = shutil.disk_usage("/dev/shm").total if os.path.isdir("/dev/shm") else 4 << 30
    return str(total * 3 // 4)


def vineyardd_binary() -> str:
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


@contextmanager
def _locked(directory: Path):
    # Two steps starting at once must not start two daemons on one socket.
    with open(directory / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read_pid(directory: Path) -> int | None:
    try:
        pid = int((directory / "vineyardd.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def ensure_running(size: str | None = None, timeout_s: float = 30.0) -> str:
    """The embedded vineyardd's socket, starting the daemon if none answers there."""
    from .vineyard_connect import try_connect

    directory = private_dir()
    sock = directory / "vineyard.sock"
    with _locked(directory):
        client = try_connect(str(sock))
        if client is not None:
            client.close()
            return str(sock)
        sock.unlink(missing_ok=True)
        log = open(directory / "vineyardd.log", "ab")
        process = subprocess.Popen(
            [
                vineyardd_binary(),
                f"--socket={sock}",
                f"--size={size or default_size()}",
                "--meta=local",
                "--rpc=false",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # not killed with the step's process group
        )
        (directory / "vineyardd.pid").write_text(str(process.pid))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StepError(
                    f"vineyardd exited with code {process.returncode} at start: see "
                    f"{directory / 'vineyardd.log'}"
                )
            client = try_connect(str(sock))
            if client is not None:
                client.close()
                return str(sock)
            time.sleep(0.05)
        process.kill()
        raise StepError(f"vineyardd did not answer on {sock} within {timeout_s:.0f} s")


def stop() -> bool:
    directory = runtime_dir()
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
    (directory / "vineyard.sock").unlink(missing_ok=True)
    return True


def status() -> dict:
    from .vineyard_connect import try_connect

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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vineyard-local", description="Start, stop or inspect the embedded local vineyardd."
    )
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument(
        "--size", help=f"shared memory size, e.g. 8Gi (default: ${SIZE_ENV} or 3/4 of /dev/shm)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .cli import run

    def body(args):
        import json

        if args.action == "start":
            if args.size is not None and not args.size.strip():
                raise UsageError("--size is empty: give a size such as 8Gi")
            print(ensure_running(args.size))
        elif args.action == "stop":
            print("stopped" if stop() else "not running")
        else:
            print(json.dumps(status()))
        return 0

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
