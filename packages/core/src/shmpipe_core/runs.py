"""A data dir's runs: listing them, and deleting their intermediates once they are done, keeping
their models and metrics."""

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from .layout import MANIFEST, RunLayout, runs_dir
from .stores import STORES, open_store
from .stores.vineyard import SPLITS
from .vineyard_connect import locate


def new_run_id(prefix: str = "run") -> str:
    """A fresh run id: readable (its time) and unique (64 random bits: two runs in one second, or
    on two machines sharing a data dir, do not collide; 24 bits did, one time in eight, for 2,000
    ids in a second)."""
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(8)}"


@dataclass
class RunInfo:
    """What a run has left behind, in the data dir and in vineyard."""

    run_id: str
    stores: list[str] = field(default_factory=list)  # where its split is
    bytes: int = 0  # the split's size, all stores together
    modified: float | None = None  # the newest file of its directory (epoch seconds)
    model: bool = False
    metrics: bool = False

    def age_s(self, now: float | None = None) -> float | None:
        return None if self.modified is None else (now or time.time()) - self.modified

    def as_dict(self) -> dict:
        age = self.age_s()
        return {
            "run_id": self.run_id,
            "stores": self.stores,
            "bytes": self.bytes,
            "age_s": None if age is None else round(age, 1),
            "model": self.model,
            "metrics": self.metrics,
        }


def _files(directory: Path):
    # Not following links: a link in a run directory is not the run's data.
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root) / name
            try:
                yield path, path.lstat()
            except FileNotFoundError:
                continue  # deleted meanwhile


def _from_data_dir(data_dir: Path) -> dict[str, RunInfo]:
    runs = {}
    root = runs_dir(data_dir)
    try:
        entries = sorted(root.iterdir())
    except FileNotFoundError:
        return runs
    for directory in entries:
        if directory.is_symlink() or not directory.is_dir():
            continue
        info = RunInfo(directory.name)
        # The paths the steps write, so refused, as there, where a link leads them elsewhere.
        paths = RunLayout(data_dir, info.run_id)
        info.model = paths.model.is_file()
        info.metrics = paths.metrics.is_file()
        splits = paths.splits
        newest = directory.lstat().st_mtime
        for path, st in _files(directory):
            newest = max(newest, st.st_mtime)
            if path.parent == splits:
                info.bytes += st.st_size
        if (splits / MANIFEST).is_file():
            info.stores.append("nas")
        info.modified = newest
        runs[info.run_id] = info
    return runs


def _vineyard_sizes(vineyard_socket: str | None) -> dict[str, int] | None:
    """Bytes held in vineyard by run id; None when no vineyard answers (none is started)."""
    endpoint, up = locate(vineyard_socket)
    if not up:
        return None
    store = open_store("vineyard", Path("."), endpoint.socket)
    try:
        names = store.client.list_names("*", limit=1 << 20)
        sizes: dict[str, int] = {}
        seen = set()
        for name, object_id in names.items():
            run_id, _, _ = str(name).partition("/")
            sizes.setdefault(run_id, 0)
            if object_id in seen:
                continue
            seen.add(object_id)
            # The splits objects (latest, previous, migrated copies) by their members: the
            # tensors are named too, and a splits object's own nbytes is 0.
            if str(name).split("/", 1)[-1].startswith(SPLITS):
                try:
                    meta = store.client.get_meta(object_id)
                except Exception:  # noqa: BLE001 - deleted meanwhile: it holds nothing now
                    continue
                sizes[run_id] += sum(
                    int(member.nbytes) for _, member in meta.items() if hasattr(member, "nbytes")
                )
        return sizes
    finally:
        store.client.close()


def list_runs(data_dir: Path, vineyard_socket: str | None = None) -> list[RunInfo]:
    """Every run in the data dir or in vineyard (the one configured, or the embedded one if it
    runs: listing never starts a daemon), sorted by id."""
    runs = _from_data_dir(data_dir)
    for run_id, nbytes in (_vineyard_sizes(vineyard_socket) or {}).items():
        info = runs.setdefault(run_id, RunInfo(run_id))
        info.stores.append("vineyard")
        info.bytes += nbytes
    return [runs[k] for k in sorted(runs)]


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


def delete_many(
    data_dir: Path,
    older_than_s: float | None = None,
    store: str = "all",
    vineyard_socket: str | None = None,
) -> dict[str, dict[str, list[str]]]:
    """Delete the intermediates of every run with a split (older than `older_than_s`, by its
    directory's newest file; a run with no directory has no age and is kept then)."""
    now = time.time()
    deleted = {}
    for info in list_runs(data_dir, vineyard_socket):
        if not info.stores:
            continue
        if older_than_s is not None:
            age = info.age_s(now)
            if age is None or age < older_than_s:
                continue
        deleted[info.run_id] = delete_intermediates(data_dir, info.run_id, store, vineyard_socket)
    return deleted


def parse_age(text: str) -> float:
    """'90s', '30m', '12h', '7d' (or plain seconds) in seconds; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = units.get(text[-1:]) if text else None
    number = float(text[:-1] if unit else text)
    if not number >= 0:  # also refuses nan
        raise ValueError(text)
    return number * (unit or 1)
