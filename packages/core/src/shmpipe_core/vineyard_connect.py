"""Which vineyard a step uses, and connecting to it. A step looks, in order, at:

1. `--vineyard-socket PATH`
2. `VINEYARD_IPC_SOCKET`
3. `VINEYARD_CONFIG` (a vineyard-config.yaml, or a directory holding one)
4. Fluid's mount in the pod: /var/run/vineyard/vineyard-config.yaml
5. otherwise an embedded local vineyardd (see `embedded`), started or reused.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import embedded
from .errors import StepError
from .vineyard_client import answers, kind_of, try_connect

FLUID_CONFIG_PATH = Path("/var/run/vineyard/vineyard-config.yaml")
CONFIG_NAME = "vineyard-config.yaml"
EMBEDDED = "embedded vineyardd"


@dataclass(frozen=True)
class Endpoint:
    socket: str
    source: str  # where the socket came from, for error messages

    @property
    def configured(self) -> bool:
        """Set by a flag, the environment or Fluid's mount, rather than the embedded default."""
        return self.source != EMBEDDED


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


def locate(cli_socket: str | None = None) -> tuple[Endpoint, bool]:
    """The vineyard a step would use, and whether it answers now. Starts nothing."""
    endpoint = resolve(cli_socket) or Endpoint(str(embedded.socket_path()), EMBEDDED)
    return endpoint, answers(endpoint.socket)


def connect(cli_socket: str | None = None):
    """Connect as configured; start or reuse the embedded vineyardd when nothing is configured."""
    endpoint = resolve(cli_socket) or Endpoint(embedded.ensure_running(), EMBEDDED)
    client = try_connect(endpoint.socket)
    if client is None:
        raise StepError(
            f"no vineyard server answers on {endpoint.socket} (from {endpoint.source}; "
            f"{kind_of(endpoint.socket)}): start vineyardd there or fix the setting"
        )
    return client, endpoint
