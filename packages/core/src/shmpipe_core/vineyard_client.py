"""vineyard's C client, loaded by itself, and a connection attempt that never raises.

`import vineyard` costs 1-4 s (it imports pandas, pkg_resources and every driver; measured here
with and without compiled bytecode), and a step pays it in every pod. The steps need only the
client in vineyard's C extension (0.07 s), so we load that extension by itself; it is the same
module `import vineyard` would load, registered under the same name, so a later
`import vineyard` in the process reuses it.
"""

import importlib.util
import os
import sys
from pathlib import Path

from .errors import StepError


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


def try_connect(socket: str):
    """A connected IPC client, or None if nothing answers on the socket."""
    C = vineyard_c()
    if not os.path.exists(socket):
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
    """The bytes vineyardd reports as used, or None when nothing answers."""
    client = try_connect(socket)
    if client is None:
        return None
    try:
        return int(client.status.memory_usage)
    finally:
        client.close()
