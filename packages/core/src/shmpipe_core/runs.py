"""A data dir's runs: listing them, and deleting their intermediates once they are done, keeping
their models and metrics."""

import os
import secrets
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from .dataset import is_run_id
from .layout import RunLayout, runs_dir
from .run_hold import try_hold
from .stores import open_store
from .vineyard import Vineyard, embedded


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


def _from_folder(data_dir: Path, run_id: str) -> RunInfo | None:
    directory = runs_dir(data_dir) / run_id
    if directory.is_symlink() or not directory.is_dir():
        return None
    info = RunInfo(run_id)
    # The paths the steps write, so refused, as there, where a link leads them elsewhere.
    paths = RunLayout(data_dir, run_id)
    info.model = paths.model.is_file()
    info.metrics = paths.metrics.is_file()
    newest = directory.lstat().st_mtime
    for _, st in _files(directory):
        newest = max(newest, st.st_mtime)
    info.modified = newest
    return info


def _from_data_dir(data_dir: Path, notes: list[str]) -> dict[str, RunInfo]:
    """The runs with a folder under runs/. A folder whose name is not a run id is no run's (paths
    built from it would lead astray); one this user cannot read is someone else's run on a
    shared volume: both are left out, with a note."""
    runs = {}
    root = runs_dir(data_dir)
    try:
        entries = sorted(os.listdir(root))
    except FileNotFoundError:
        return runs
    for name in entries:
        if not is_run_id(name):
            if (root / name).is_dir() and not (root / name).is_symlink():
                notes.append(f"ignored the folder {name!r} in {root}: not a run id")
            continue
        try:
            info = _from_folder(data_dir, name)
        except OSError as e:
            notes.append(f"skipped {root / name}: {e.strerror or e}")
            continue
        if info is not None:
            runs[name] = info
    return runs


def _vineyards(store: str, vineyard_socket: str | None) -> list:
    """The vineyards to clean, connected (a configured one that does not answer fails here,
    before anything is deleted): the one configured, else every embedded one that runs (one
    per partition of a local partitioned run); none where none runs: a daemon started now
    would hold nothing."""
    if store == "nas":
        return []
    vineyard = Vineyard(vineyard_socket)
    if vineyard.configured:
        return [open_store("vineyard", Path("."), vineyard_socket)]
    return [open_store("vineyard", Path("."), socket) for socket in embedded.sockets()]


def _close(vineyards: list) -> None:
    for vineyard in vineyards:
        vineyard.close()


def _listed(data_dir: Path, vineyards: list, notes: list[str]) -> list[RunInfo]:
    runs = _from_data_dir(data_dir, notes)
    for run_id, nbytes in open_store("nas", data_dir).runs().items():
        if run_id in runs:  # a run whose folder could be read
            runs[run_id].stores.append("nas")
            runs[run_id].bytes += nbytes
    for vineyard in vineyards:
        for run_id, nbytes in vineyard.runs().items():
            info = runs.setdefault(run_id, RunInfo(run_id))
            if "vineyard" not in info.stores:
                info.stores.append("vineyard")
            info.bytes += nbytes
    return [runs[k] for k in sorted(runs)]


def list_runs(
    data_dir: Path, vineyard_socket: str | None = None, notes: list[str] | None = None
) -> list[RunInfo]:
    """Every run in the data dir or in vineyard (the one configured, or the embedded ones that
    run: listing never starts a daemon), sorted by id; what was left out goes to `notes`."""
    found = Vineyard(vineyard_socket)
    vineyards = (
        ([open_store("vineyard", Path("."), found.socket)] if found.up() else [])
        if found.configured
        else _vineyards("vineyard", None)
    )
    try:
        return _listed(data_dir, vineyards, [] if notes is None else notes)
    finally:
        _close(vineyards)


def _delete(data_dir: Path, run_id: str, store: str, vineyards: list) -> dict[str, list[str]]:
    deleted = {}
    if store in ("nas", "all"):
        deleted["nas"] = open_store("nas", data_dir).delete(run_id)
    if store == "vineyard" or vineyards:
        deleted["vineyard"] = [name for v in vineyards for name in v.delete(run_id)]
    return deleted


def delete_intermediates(
    data_dir: Path, run_id: str, store: str = "all", vineyard_socket: str | None = None
) -> dict[str, list[str]]:
    """Delete the run's split from one store or from all; what was deleted, by store. For the
    pipeline's own cleanup, which holds the run (`cleanup` uses `clean`)."""
    vineyards = _vineyards(store, vineyard_socket)
    try:
        return _delete(data_dir, run_id, store, vineyards)
    finally:
        _close(vineyards)


def clean(
    data_dir: Path,
    run_ids: list[str] | None = None,
    older_than_s: float | None = None,
    store: str = "all",
    vineyard_socket: str | None = None,
    notes: list[str] | None = None,
) -> tuple[dict[str, dict[str, list[str]]], dict[str, str]]:
    """Delete the intermediates of `run_ids`, or of every run with a split (older than
    `older_than_s`, by its directory's newest file; a run with no directory has no age and is
    kept then). Returns what was deleted by run, and the runs skipped, with why.

    Everything is decided first: vineyard connected, the runs chosen and held. A run whose
    pipeline holds it is skipped, not waited for; the chosen stay held until deleted.
    """
    notes = [] if notes is None else notes
    vineyards = _vineyards(store, vineyard_socket)
    if not vineyards and store == "vineyard":
        notes.append("no vineyard is configured and the embedded one is not running: none to clean")
    try:
        if run_ids is None:
            now = time.time()
            ages = {r.run_id: r.age_s(now) for r in _listed(data_dir, vineyards, notes) if r.stores}
            run_ids = [
                run_id
                for run_id, age in ages.items()
                if older_than_s is None or (age is not None and age >= older_than_s)
            ]
        with ExitStack() as held:
            chosen, skipped = [], {}
            for run_id in run_ids:
                if held.enter_context(try_hold(data_dir, run_id, shared=True)):
                    chosen.append(run_id)
                else:
                    skipped[run_id] = "its pipeline is running"
            deleted = {run_id: _delete(data_dir, run_id, store, vineyards) for run_id in chosen}
    finally:
        _close(vineyards)
    return deleted, skipped


def parse_age(text: str) -> float:
    """'90s', '30m', '12h', '7d' (or plain seconds) in seconds; ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = units.get(text[-1:]) if text else None
    number = float(text[:-1] if unit else text)
    if not number >= 0:  # also refuses nan
        raise ValueError(text)
    return number * (unit or 1)
