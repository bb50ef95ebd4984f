"""Finding and connecting to vineyard, in the order a step looks:

1. `--vineyard-socket PATH`
2. `VINEYARD_IPC_SOCKET`
3. `VINEYARD_CONFIG` (a vineyard-config.yaml, or a directory holding one)
4. Fluid's mount in the pod: /var/run/vineyard/vineyard-config.yaml
5. otherwise an embedded local vineyardd (see `embedded`), started or reused.

`import vineyard` costs 1-4 s (it imports pandas, pkg_resources and every driver; measured here
with and without compiled bytecode), and a step pays it in every pod. The steps need only the
client in vineyard's C extension (0.07 s), so we load that extension by itself; it is the same
module `import vineyard` would load, registered under the same name, so a later
`import vineyard` in the process reuses it.
"""

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import StepError

FLUID_CONFIG_PATH = Path("/var/run/vineyard/vineyard-config.yaml")
CONFIG_NAME = "vineyard-config.yaml"


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


@dataclass(frozen=True)
class Endpoint:
    socket: str
    source: str  # where the socket came from, for error messages


def read_config(path: Path) -> str:
    """The IPC socket named by a vineyard-config.yaml; relative to the file's directory."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME
    try:
        config = yaml.safe_load(path.read_text()) or {}
        socket = config["Vineyard"]["IPCSocket"]
    except FileNotFoundError:
        raise StepError(
            f"vineyard config {path} does not exist: check the Fluid dataset mount or "
            "VINEYARD_CONFIG"
        ) from None
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise StepError(
            f"cannot read the vineyard socket from {path} ({type(e).__name__}: {e}): it must "
            "hold `Vineyard: {IPCSocket: <path>}`"
        ) from None
    return str(path.parent / socket)


def resolve(cli_socket: str | None = None) -> Endpoint | None:
    """The configured endpoint, or None when nothing is configured (use the embedded one)."""
    if cli_socket:
        return Endpoint(cli_socket, "--vineyard-socket")
    if os.environ.get("VINEYARD_IPC_SOCKET"):
        return Endpoint(os.environ["VINEYARD_IPC_SOCKET"], "VINEYARD_IPC_SOCKET")
    if os.environ.get("VINEYARD_CONFIG"):
        config = os.environ["VINEYARD_CONFIG"]
        return Endpoint(read_config(Path(config)), f"VINEYARD_CONFIG={config}")
    if FLUID_CONFIG_PATH.exists():
        return Endpoint(read_config(FLUID_CONFIG_PATH), str(FLUID_CONFIG_PATH))
    return None


def try_connect(socket: str):
    """A connected IPC client, or None if nothing answers on the socket."""
    C = vineyard_c()
    if not os.path.exists(socket):
        return None
    try:
        return C._connect(socket)
    except (C.ConnectionFailedException, C.ConnectionErrorException, C.IOErrorException):
        return None


def connect(cli_socket: str | None = None):
    """Connect as configured; start or reuse the embedded vineyardd when nothing is configured."""
    endpoint = resolve(cli_socket)
    if endpoint is None:
        from . import embedded

        endpoint = Endpoint(embedded.ensure_running(), "embedded vineyardd")
    client = try_connect(endpoint.socket)
    if client is None:
        raise StepError(
            f"no vineyard server answers on {endpoint.socket} (from {endpoint.source}): start "
            "vineyardd there or fix the setting"
        )
    return client, endpoint
