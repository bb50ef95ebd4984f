"""A run's intermediates: deleting them once the run is done, keeping its model and metrics."""

from pathlib import Path

from .store import STORES, open_store
from .vineyard_connect import locate


def delete_intermediates(
    data_dir: Path, run_id: str, store: str = "all", vineyard_socket: str | None = None
) -> dict[str, list[str]]:
    """Delete the run's split from one store or from all; what was deleted, by store.

    With "all", vineyard is cleaned only when one is configured or the embedded one runs:
    cleaning never starts a daemon to find that it is empty. A configured vineyard that does not
    answer is an error (open_store says so).
    """
    stores = STORES if store == "all" else (store,)
    deleted = {}
    if "nas" in stores:
        deleted["nas"] = open_store("nas", data_dir).delete(run_id)
    if "vineyard" in stores:
        endpoint, up = locate(vineyard_socket)
        if store == "vineyard" or up or endpoint.configured:
            deleted["vineyard"] = open_store("vineyard", data_dir, vineyard_socket).delete(run_id)
    return deleted
