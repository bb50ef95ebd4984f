"""Private vineyardd instances for tests, started by the project's own launcher."""

import subprocess
from pathlib import Path

from shmpipe_core.vineyard import daemon as vineyardd
from shmpipe_core.vineyard.client import memory_usage, try_connect

__all__ = ["memory_usage", "names", "start_vineyardd"]


def start_vineyardd(
    directory: Path, size: str = "2Gi", flags: tuple[str, ...] = ()
) -> subprocess.Popen:
    """A vineyardd with RPC off serving `directory/vineyard.sock`, answering when this returns."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return vineyardd.start(
        directory / "vineyard.sock",
        size,
        vineyardd.local_meta() + list(flags),
        directory / "vineyardd.log",
    )


def names(socket: str, pattern: str = "*") -> dict:
    """The names vineyardd holds, and the objects they point at."""
    client = try_connect(socket)
    try:
        return {str(k): v for k, v in client.list_names(pattern, limit=1 << 20).items()}
    finally:
        client.close()
