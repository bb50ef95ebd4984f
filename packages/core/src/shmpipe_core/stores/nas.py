"""The NAS store: each split array is a file on the shared volume, in Arrow IPC tensor format.

Why Arrow IPC tensors and not Parquet or an Arrow table: a tensor message keeps the 2-D,
column-major float64 matrix the model is fed, so a load is one sequential read into the final array.
Parquet (even uncompressed) decodes column by column and an Arrow table keeps one buffer per column,
so both cost a full extra copy to assemble the matrix (a reading of their formats; this project
has not measured Parquet against the tensor files). Arrays are written under a fresh generation
name and published by atomically replacing `manifest.json`, which names them: a reader that reads
the manifest first always gets the arrays of one commit, old or new, never a mix, never half a
file.

Writers and cleanups of one run take the run's lock (`RunLayout.splits_lock`, beside the split,
which cleanup keeps): a writer removes the files no manifest names, so two writers (or a writer and
a cleanup) running at once would otherwise delete each other's files under a committed manifest.
Readers take no lock: they retry when the commit they read is replaced.
"""

import json
import mmap
import os
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import faults
from .. import manifest as manifests
from ..dataset import is_run_id
from ..errors import StepError
from ..files import (
    NO_SPACE,
    atomic_path,
    locked,
    no_space,
    open_dir,
    read_small_file,
    write_json,
)
from ..layout import MANIFEST, SPLITS, SPLITS_LOCK, RunLayout, is_partition, runs_dir
from ..pages import populate_for_write
from .base import SplitWriter, Store

# A manifest names a handful of arrays (a few kB): the cap is far above any preprocess writes,
# and keeps a huge file (or a link to /dev/zero) from being read whole.
MANIFEST_MAX_BYTES = 1 << 20


@contextmanager
def run_lock(directory: Path, create: bool):
    """Hold the lock of the run whose split is `directory`; yields False if the run has no dir."""
    run = directory.parent
    if create:
        run.mkdir(parents=True, exist_ok=True)
    with locked(run / SPLITS_LOCK) as state:
        yield state is not None


class NasWriter(SplitWriter):
    def __init__(self, directory: Path, run_id: str):
        self.directory = directory
        self.run_id = run_id
        self.arrays: dict[str, np.ndarray] = {}

    def allocate(self, name: str, shape: tuple[int, ...], order: str = "C") -> np.ndarray:
        self.arrays[name] = np.empty(shape, dtype=np.float64, order=order)
        return self.arrays[name]

    def fault_in(self) -> None:
        """Fault in the memory of every array allocated so far, as the vineyard writer does:
        the two stores on the same footing."""
        for array in self.arrays.values():
            populate_for_write(array)

    def commit(self, features: list[str]) -> dict:
        with run_lock(self.directory, create=True):
            self.directory.mkdir(exist_ok=True)
            fd = open_dir(self.directory)
            try:
                return self._commit(features, fd)
            finally:
                os.close(fd)

    def _commit(self, features: list[str], fd: int) -> dict:
        generation = uuid.uuid4().hex[:12]
        manifest = manifests.build(self.arrays, features, self.run_id)
        manifest["files"] = {}
        # Through the descriptor: a link swapped in for the directory cannot redirect a write.
        here = Path(f"/proc/self/fd/{fd}")
        try:
            for name, array in self.arrays.items():
                filename = f"{name}.{generation}.arrow"
                manifest["files"][name] = filename
                with atomic_path(here / filename) as tmp, pa.OSFile(str(tmp), "wb") as f:
                    pa.ipc.write_tensor(pa.Tensor.from_numpy(array), f)
                faults.point("nas-commit")  # some new files written, the manifest not yet replaced
            write_json(here / MANIFEST, manifest)
        except BaseException as e:
            # Nothing of a failed commit stays: a rerun must not find the disk fuller.
            for filename in manifest["files"].values():
                try:
                    os.unlink(filename, dir_fd=fd)
                except FileNotFoundError:
                    pass
            if isinstance(e, OSError) and e.errno in NO_SPACE:
                needed = sum(a.nbytes for a in self.arrays.values())
                raise no_space(self.directory, "rerun preprocess", needed, "the split") from None
            raise
        _remove_unlisted(fd, manifest)
        return manifest

    def abort(self) -> None:
        self.arrays.clear()


def _remove_unlisted(fd: int, manifest: dict) -> None:
    """Drop earlier generations and temp files that a killed writer left behind (under the lock:
    no other writer's files are in flight)."""
    keep = {MANIFEST, *manifest["files"].values()}
    for name in os.listdir(fd):
        if name not in keep:
            try:
                os.unlink(name, dir_fd=fd)
            except FileNotFoundError:
                pass
    os.fsync(fd)


def _map_tensor(path: Path) -> np.ndarray:
    """The tensor file at `path` mapped read-only, zero-copy: the page cache's pages, not a copy
    in private memory. The open does not block (a FIFO put there would hang the step) and
    anything but a regular file is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        mapped = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    return pa.ipc.read_tensor(pa.BufferReader(pa.py_buffer(mapped))).to_numpy()


class _Replaced(Exception):
    """The commit being read was replaced by a newer one."""


def _read_manifest(directory: Path) -> str:
    path = directory / MANIFEST

    def bad(what: str) -> StepError:
        return StepError(f"cannot read {path} ({what}): rerun preprocess to rewrite the split")

    return read_small_file(path, MANIFEST_MAX_BYTES, bad, follow_links=False)


def _manifest_changed(directory: Path, manifest: dict) -> bool:
    try:
        return json.loads(_read_manifest(directory)) != manifest
    except (OSError, StepError, ValueError, RecursionError):
        return False


class NasStore(Store):
    kind = "nas"

    def __init__(self, data_dir: Path, partition: int | None = None):
        self.data_dir = Path(data_dir)
        self.partition = partition

    def _dir(self, run_id: str) -> Path:
        return RunLayout(self.data_dir, run_id).split_dir(self.partition)

    def runs(self) -> dict[str, int]:
        """The runs with a committed NAS split, with its bytes; folders that are not run ids,
        links and folders this user cannot read hold no run of this store's."""
        held = {}
        try:
            names = os.listdir(runs_dir(self.data_dir))
        except FileNotFoundError:
            return held
        for run_id in filter(is_run_id, names):
            run = runs_dir(self.data_dir) / run_id
            nbytes = [_split_bytes(splits) for splits in (run / SPLITS, *_partitions(run))]
            if any(n is not None for n in nbytes):
                held[run_id] = sum(n for n in nbytes if n is not None)
        return held

    def location(self, run_id: str) -> str:
        return str(self._dir(run_id))

    def _writer(self, run_id: str) -> NasWriter:
        return NasWriter(self._dir(run_id), run_id)

    def _read(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        # A rerun deletes the files of the commit it replaces: a reader that read the old
        # manifest just before finds a file gone, and reads the new commit instead.
        for _ in range(3):
            try:
                return self._read_once(run_id, names)
            except _Replaced:
                continue
        raise StepError(
            f"the NAS split of run {run_id!r} keeps changing while read (a rerun or cleanup is in "
            "progress): rerun this step when it is done"
        )

    def _read_once(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        directory = self._dir(run_id)
        try:
            text = _read_manifest(directory)
        except FileNotFoundError:
            raise StepError(
                f"no NAS split for run {run_id!r} in {directory}: run "
                f"`preprocess --sink nas --run-id {run_id}` first (same --data-dir)"
            ) from None
        manifest = manifests.parse(text, str(directory / MANIFEST))
        manifests.check(manifest, str(directory / MANIFEST), names, files=True)
        arrays = {}
        for name in names:
            path = directory / manifest["files"][name]
            try:
                array = _map_tensor(path)
            except FileNotFoundError:
                if (directory / MANIFEST).exists() and _manifest_changed(directory, manifest):
                    raise _Replaced from None
                raise StepError(f"{path} is missing: rerun preprocess") from None
            # ArrowException: also ArrowMemoryError, from a message header whose body length
            # is past what malloc gives (the file is damaged; pyarrow allocates it up front).
            except (OSError, ValueError, pa.ArrowException) as e:
                raise StepError(f"cannot read {path} ({e}): rerun preprocess") from None
            manifests.verify(manifest, name, array, str(path))
            arrays[name] = array
        return arrays, manifest

    def verify_unchanged(self) -> None:
        """Nothing to check: a published file is never written again, only unlinked, and a
        mapping keeps an unlinked file's data."""

    def delete(self, run_id: str) -> list[str]:
        """Every partition's split of the run, whichever partition this store is for."""
        run = RunLayout(self.data_dir, run_id)
        deleted = []
        for directory in (run.splits, *_partitions(run.dir)):
            deleted += _delete_split(directory)
        return deleted


def _partitions(run: Path) -> list[Path]:
    """The partitions' split folders of a run (`part-<k>/splits`), real folders only."""
    try:
        names = os.listdir(run)
    except OSError:  # no folder, or not this user's to read: no split of this store's
        return []
    return [
        run / name / SPLITS
        for name in sorted(names)
        if is_partition(name) and not (run / name).is_symlink()
    ]


def _split_bytes(splits: Path) -> int | None:
    """A committed split's bytes, or None where there is none (or it cannot be read)."""
    try:
        if splits.is_symlink() or not (splits / MANIFEST).is_file():
            return None
        return sum(entry.stat(follow_symlinks=False).st_size for entry in os.scandir(splits))
    except OSError:
        return None


def _delete_split(directory: Path) -> list[str]:
    with run_lock(directory, create=False) as has_run:
        if not has_run or not directory.exists():
            return []
        fd = open_dir(directory)
        try:
            names = sorted(os.listdir(fd))
            for name in names:
                os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
        os.rmdir(directory)
    return [str(directory / name) for name in names]
