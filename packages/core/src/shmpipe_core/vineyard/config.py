"""Which vineyard is configured. A command looks, in order, at:

1. `--vineyard-socket PATH`
2. `VINEYARD_IPC_SOCKET`
3. `VINEYARD_CONFIG` (a vineyard-config.yaml, or a directory holding one)
4. Fluid's mount in the pod: /var/run/vineyard/vineyard-config.yaml
5. otherwise the embedded local vineyardd (`embedded`).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import StepError
from ..files import read_small_file

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


# A vineyard-config.yaml is a few lines: anything much larger is not one, and reading on
# (a huge file, /dev/zero) would only fill memory.
CONFIG_MAX_BYTES = 64 * 1024


def read_config(path: Path) -> str:
    """The IPC socket named by a vineyard-config.yaml; relative to the file's directory."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_NAME

    def bad(what: str) -> StepError:
        return StepError(
            f"cannot read the vineyard socket from {path} ({what}): it must be a YAML file "
            "holding `Vineyard: {IPCSocket: <path>}`"
        )

    try:
        # The path is the user's choice: a link there is followed (to a regular file).
        text = read_small_file(path, CONFIG_MAX_BYTES, bad)
    except FileNotFoundError:
        raise StepError(
            f"vineyard config {path} does not exist: check the Fluid dataset mount or "
            "VINEYARD_CONFIG"
        ) from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise bad(f"not YAML: {str(e).splitlines()[0]}") from None
    section = config.get("Vineyard") if isinstance(config, dict) else None
    socket = section.get("IPCSocket") if isinstance(section, dict) else None
    if not isinstance(socket, str) or not socket.strip():
        raise bad("no `Vineyard.IPCSocket` path in it")
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
