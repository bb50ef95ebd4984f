"""One small interface over the two ways steps hand data to each other: a writer's arrays and
manifest become visible together at commit, or not at all; readers get one commit's arrays."""

from pathlib import Path
from typing import Protocol

import numpy as np

STORES = ("nas", "vineyard")


class SplitWriter(Protocol):
    def allocate(self, name: str, shape: tuple[int, ...], order: str = "C") -> np.ndarray:
        """A float64 destination array; fill it in place before `commit`."""

    def fault_in(self) -> None:
        """Fault in every allocated array's memory at once, not page by page."""

    def commit(self, features: list[str]) -> dict:
        """Publish every allocated array and the manifest at once; returns the manifest."""

    def abort(self) -> None:
        """Drop what was allocated; nothing becomes visible."""


class Store(Protocol):
    kind: str

    def writer(self, run_id: str) -> SplitWriter: ...

    def read(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        """The named arrays of the run's latest commit, checked; read-only where mapped."""

    def verify_unchanged(self) -> None:
        """StepError unless the arrays `read` handed out still match their manifests."""

    def delete(self, run_id: str) -> list[str]:
        """Delete the run's intermediates; returns what was deleted."""

    def location(self, run_id: str) -> str:
        """Where the run's data lives, for messages."""


def open_store(kind: str, data_dir: Path, vineyard_socket: str | None = None) -> Store:
    # Imported on use: a NAS step never loads vineyard's client, a vineyard step never pyarrow.
    if kind == "nas":
        from .nas_store import NasStore

        return NasStore(data_dir)
    from .vineyard_store import VineyardStore

    return VineyardStore.connect(vineyard_socket)
