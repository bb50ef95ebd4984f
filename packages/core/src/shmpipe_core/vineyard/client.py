"""vineyard's C client, loaded by itself, and a connection attempt that never raises.

`import vineyard` costs 1-4 s (it imports pandas, pkg_resources and every driver; measured here
with and without compiled bytecode), and a step pays it in every pod. The steps need only the
client in vineyard's C extension (0.07 s), so we load that extension by itself; it is the same
module `import vineyard` would load, registered under the same name, so a later
`import vineyard` in the process reuses it (its `from . import _C` finds it in sys.modules). What
`import vineyard` adds, `__VINEYARD_INTERNAL_REGISTRY` naming the type registry library, is not
needed (packages/core/NOTES.md, Client).
"""

import importlib.util
import json
import os
import socket as pysocket
import stat
import struct
import sys
from pathlib import Path

from ..errors import StepError


def vineyard_c():
    """vineyard's C extension (`vineyard._C`), without importing the `vineyard` package."""
    module = sys.modules.get("vineyard._C")
    if module is not None:
        return module
    spec = importlib.util.find_spec("vineyard")
    if spec is None or not spec.submodule_search_locations:
        raise StepError("the vineyard package is not installed: run `uv sync`")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(package_dir.glob("_C.*.so"))
    if not candidates:
        raise StepError(f"vineyard's C extension is missing from {package_dir}: reinstall vineyard")
    ext_spec = importlib.util.spec_from_file_location("vineyard._C", candidates[0])
    module = importlib.util.module_from_spec(ext_spec)
    ext_spec.loader.exec_module(module)
    sys.modules["vineyard._C"] = module
    return module


# vineyard's own connect waits for the server's reply with no bound, holding the GIL, deaf to
# SIGINT and SIGTERM: a vineyardd that accepts but never answers (stopped, hung) must be caught
# here first, where the wait is bounded and a signal still lands.
ANSWER_TIMEOUT_S = 10.0
_REGISTER = json.dumps({"type": "register_request", "version": "0.24.2"}).encode()


def listening(path: str) -> bool:
    """Whether a vineyardd answers on the unix socket `path`: False when nothing listens there;
    StepError when something accepts but does not answer within ANSWER_TIMEOUT_S.

    vineyard's own connect retries for 10 s on a path that is not a listening socket
    (packages/core/NOTES.md, Client): asked first, such a path costs one failed connect.
    """
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except OSError:
        return False
    probe = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
        probe.settimeout(ANSWER_TIMEOUT_S)
        # Any reply to the request vineyard's client sends first shows the server serves.
        probe.sendall(struct.pack("<Q", len(_REGISTER)) + _REGISTER)
        probe.recv(1)
        return True
    except TimeoutError:
        raise StepError(
            f"the vineyardd on {path} accepts connections but did not answer within "
            f"{ANSWER_TIMEOUT_S:.0f} s (stopped or hung): resume or restart it"
        ) from None
    except OSError:
        return False
    finally:
        probe.close()


def kind_of(path: str) -> str:
    """What is at `path`, for messages about a socket that does not answer."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "nothing is there"
    if stat.S_ISSOCK(mode):
        return "a socket nothing listens on"
    if stat.S_ISDIR(mode):
        return "a directory, not a socket"
    if stat.S_ISREG(mode):
        return "a regular file, not a socket"
    return "not a socket"


def try_connect(socket: str):
    """A connected IPC client, or None if nothing answers on the socket."""
    C = vineyard_c()
    if not listening(socket):
        return None
    try:
        return C._connect(socket)
    except (C.ConnectionFailedException, C.ConnectionErrorException, C.IOErrorException):
        return None


def answers(socket: str) -> bool:
    """Whether a vineyardd answers on the socket now."""
    client = try_connect(socket)
    if client is None:
        return False
    client.close()
    return True


def memory_usage(socket: str) -> int | None:
    """The bytes vineyardd reports as used, or None when nothing answers.

    The bytes of live blobs, sealed or not (unsealed ones a dead client left included): not the
    memory its memfd holds, which keeps the pages of deleted blobs (see
    shmpipe_bench.bench_vineyardd)."""
    client = try_connect(socket)
    if client is None:
        return None
    try:
        return int(client.status.memory_usage)
    finally:
        client.close()
