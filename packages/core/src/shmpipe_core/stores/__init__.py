"""The stores behind one door: `open_store` hands out the NAS or the vineyard store."""

from pathlib import Path

from .base import Store

STORES = ("nas", "vineyard")


def open_store(
    kind: str,
    data_dir: Path,
    vineyard_socket: str | None = None,
    start: bool = False,
    partition: int | None = None,
) -> Store:
    """`start`: a writer may start the embedded vineyardd; a reader finds one or fails.
    `partition`: the store reads and writes that partition's split (None: the whole run's);
    deleting a run deletes every partition's."""
    # Imported on use: a NAS step never loads vineyard's client, a vineyard step never pyarrow.
    if kind == "nas":
        from .nas import NasStore

        return NasStore(data_dir, partition)
    from .vineyard import VineyardStore

    return VineyardStore.connect(vineyard_socket, start, partition)
