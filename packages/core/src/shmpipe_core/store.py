"""One small interface over the two ways steps hand data to each other.

A step asks its store for destination arrays, fills them in place, and commits: the arrays and their
manifest become visible together, atomically, or not at all. Readers get the arrays of one commit.
"""

from pathlib import Path
from typing import Protocol

import numpy as np

STORES = ("nas", "vineyard")


class SplitWriter(Protocol):
    def allocate(self, name: str, shape: tuple[int, ...], order: str = "C") -> np.ndarray:
        """A float64 destination array; fill it in place before `commit`."""

    def fault_in(self) -> None:
        """Fault in every allocated array's memory at once, instead of page by page as the
        fill first writes it."""

    def commit(self, features: list[str]) -> dict:
        """Publish every allocated array and the manifest at once; returns the manifest."""

    def abort(self) -> None:
        """Drop what was allocated; nothing becomes visible."""


class Store(Protocol):
    kind: str

    def writer(self, run_id: str) -> SplitWriter: ...

    def read(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        """The named arrays of the run's latest commit, checked against its manifest.

        An array is writable only where it is the caller's own (NAS reads into private memory);
        shared memory comes read-only (`private_copy` makes a writable copy of it).
        """

    def verify_unchanged(self) -> None:
        """After use, before publishing anything: the arrays `read` handed out still match
        their manifests (StepError if not). Memory shared with the store can change under a
        reader; a step checks this before it writes its results."""

    def delete(self, run_id: str) -> list[str]:
        """Delete the run's intermediates; returns what was deleted."""

    def location(self, run_id: str) -> str:
        """Where the run's data lives, for messages."""


def open_store(
    kind: str, data_dir: Path, vineyard_socket: str | None = None, start: bool = False
) -> Store:
    # Imported on use: a NAS step never loads vineyard's client, a vineyard step never pyarrow.
    if kind == "nas":
        from .nas_store import NasStore

        return NasStore(data_dir)
    from .vineyard_store import VineyardStore

    return VineyardStore.connect(vineyard_socket, start)
