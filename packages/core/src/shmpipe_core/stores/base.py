"""One small interface over the two ways steps hand data to each other: a writer's arrays and
manifest become visible together at commit, or not at all; readers get one commit's arrays."""

import sys

import numpy as np

from ..metrics import booked
from ..pages import populate_for_read
from ..private_copy import private_copy

# What `read` hands a step: the arrays as the store maps them (read-only; the caller pages them in
# as it goes), paged in at once, or the step's own writable copies.
HAND_OUTS = ("mapped", "resident", "writable")


class SplitWriter:
    """A store's writer. Used as a context manager, it commits `features` on a clean exit and
    aborts on an error: nothing of a failed step becomes visible."""

    features: list[str] = []
    metrics = None
    manifest: dict | None = None  # the committed manifest, once the context has committed

    def allocate(self, name: str, shape: tuple[int, ...], order: str = "C") -> np.ndarray:
        """A float64 destination array; fill it in place before `commit`."""
        raise NotImplementedError

    def fault_in(self) -> None:
        """Fault in every allocated array's memory at once, not page by page."""

    def commit(self, features: list[str]) -> dict:
        """Publish every allocated array and the manifest at once; returns the manifest."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop what was allocated; nothing becomes visible."""

    def allocate_all(self, shapes: dict[str, tuple[tuple[int, ...], str]]) -> dict:
        """Destinations for {name: (shape, order)}, faulted in: the `allocate` phase."""
        with booked(self.metrics, "allocate"):
            out = {
                name: self.allocate(name, shape, order) for name, (shape, order) in shapes.items()
            }
            self.fault_in()
        for name, array in out.items():
            if self.metrics is not None:
                self.metrics.count(name, array)
        return out

    def __enter__(self) -> "SplitWriter":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self.abort()
            return
        with booked(self.metrics, "save"):
            self.manifest = self.commit(self.features)


class Store:
    kind: str
    partition: int | None = None  # the partition of a partitioned run this store reads or writes
    fetched: tuple[str, ...] | list[str] = ()  # what `read` brought from another node

    def writer(self, run_id: str, features=(), metrics=None) -> SplitWriter:
        writer = self._writer(run_id)
        writer.features, writer.metrics = list(features), metrics
        return writer

    def read(
        self, run_id: str, names: list[str], metrics=None, hand_out: str = "mapped"
    ) -> tuple[dict[str, np.ndarray], dict]:
        """The named arrays of the run's latest commit, checked against its manifest, handed out
        as `hand_out` says (HAND_OUTS), each phase booked in `metrics`."""
        with booked(metrics, "load"):
            arrays, manifest = self._read(run_id, names)
        if self.fetched:
            # The placement missed (the step ran on another node than its data): said, not
            # hidden, since the fetch copies the partition over the network.
            said = "; ".join(self.fetched)
            print(f"{getattr(metrics, 'step', 'read')}: {said}", file=sys.stderr, flush=True)
            if metrics is not None:
                metrics.notes["fetched"] = said
        if hand_out == "resident":
            with booked(metrics, "page_in"):
                for array in arrays.values():
                    populate_for_read(array)
        elif hand_out == "writable":
            arrays = self.writable(arrays, metrics)
        for name, array in arrays.items():
            if metrics is not None:
                metrics.count(name, array)
        return arrays, manifest

    @staticmethod
    def writable(arrays: dict[str, np.ndarray], metrics=None) -> dict[str, np.ndarray]:
        """The step's own writable copies of arrays `read` handed out (the `private_copy`
        phase); arrays already writable are the step's own and come back as they are."""
        with booked(metrics, "private_copy"):
            own = {name: private_copy(array) for name, array in arrays.items()}
        if metrics is not None:
            metrics.bytes["private_copy"] = sum(
                own[n].nbytes for n in own if own[n] is not arrays[n]
            )
        return own

    def verify_unchanged(self) -> None:
        """StepError unless the arrays `read` handed out still match their manifests."""

    def delete(self, run_id: str) -> list[str]:
        """Delete the run's intermediates; returns what was deleted."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the store's connection, if it has one."""

    def location(self, run_id: str) -> str:
        """Where the run's data lives, for messages."""
        raise NotImplementedError

    def _writer(self, run_id: str) -> SplitWriter:
        raise NotImplementedError

    def _read(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        raise NotImplementedError
