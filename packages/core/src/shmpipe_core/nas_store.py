"""The NAS store: each split array is a file on the shared volume, in Arrow IPC tensor format.

Why Arrow IPC tensors and not Parquet or an Arrow table: a tensor message keeps the 2-D,
column-major float64 matrix the model is fed, so a load is one sequential read into the final array.
Parquet (even uncompressed) decodes column by column and an Arrow table keeps one buffer per column,
so both cost a full extra copy to assemble the matrix (measured by `pipeline-bench`; at M=10 the
tensor read was about 3x faster than Parquet). Arrays are written under a fresh generation name and
published by atomically replacing `manifest.json`, which names them: a reader that reads the
manifest first always gets the arrays of one commit, old or new, never a mix, never half a file.
"""

import json
import os
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from . import faults
from . import manifest as manifests
from .dataset import run_dir
from .errors import StepError
from .files import atomic_path, fsync_dir, write_json
from .pages import populate_for_write

MANIFEST = "manifest.json"


def splits_dir(data_dir: Path, run_id: str) -> Path:
    return run_dir(data_dir, run_id) / "splits"


class NasWriter:
    def __init__(self, directory: Path, run_id: str):
        self.directory = directory
        self.run_id = run_id
        self.arrays: dict[str, np.ndarray] = {}

    def allocate(self, name: str, shape: tuple[int, ...], order: str = "C") -> np.ndarray:
        self.arrays[name] = np.empty(shape, dtype=np.float64, order=order)
        populate_for_write(self.arrays[name])  # as the vineyard store does: same footing
        return self.arrays[name]

    def commit(self, features: list[str]) -> dict:
        self.directory.mkdir(parents=True, exist_ok=True)
        generation = uuid.uuid4().hex[:12]
        manifest = manifests.build(self.arrays, features, self.run_id)
        manifest["files"] = {}
        for name, array in self.arrays.items():
            filename = f"{name}.{generation}.arrow"
            with atomic_path(self.directory / filename) as tmp, pa.OSFile(str(tmp), "wb") as f:
                pa.ipc.write_tensor(pa.Tensor.from_numpy(array), f)
            manifest["files"][name] = filename
            faults.point("nas-commit")  # some new files written, the manifest not yet replaced
        write_json(self.directory / MANIFEST, manifest)
        _remove_unlisted(self.directory, manifest)
        return manifest

    def abort(self) -> None:
        self.arrays.clear()


def _remove_unlisted(directory: Path, manifest: dict) -> None:
    """Drop earlier generations and temp files that a killed writer left behind."""
    keep = {MANIFEST, *manifest["files"].values()}
    for path in directory.iterdir():
        if path.name not in keep:
            path.unlink(missing_ok=True)
    fsync_dir(directory)


class _Replaced(Exception):
    """The commit being read was replaced by a newer one."""


def _manifest_changed(directory: Path, manifest: dict) -> bool:
    try:
        return json.loads((directory / MANIFEST).read_text()) != manifest
    except (OSError, json.JSONDecodeError):
        return False


class NasStore:
    kind = "nas"

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)

    def location(self, run_id: str) -> str:
        return str(splits_dir(self.data_dir, run_id))

    def writer(self, run_id: str) -> NasWriter:
        return NasWriter(splits_dir(self.data_dir, run_id), run_id)

    def read(
        self, run_id: str, names: list[str], writable: bool = False
    ) -> tuple[dict[str, np.ndarray], dict]:
        # Read into fresh memory: the arrays are always the caller's own, writable or not.
        # A rerun deletes the files of the commit it replaces: a reader that read the old
        # manifest just before finds a file gone, and reads the new commit instead.
        for _ in range(3):
            try:
                return self._read(run_id, names)
            except _Replaced:
                continue
        raise StepError(
            f"the NAS split of run {run_id!r} keeps changing while read (a rerun or cleanup is in "
            "progress): rerun this step when it is done"
        )

    def _read(self, run_id: str, names: list[str]) -> tuple[dict[str, np.ndarray], dict]:
        directory = splits_dir(self.data_dir, run_id)
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except FileNotFoundError:
            raise StepError(
                f"no NAS split for run {run_id!r} in {directory}: run "
                f"`preprocess --sink nas --run-id {run_id}` first (same --data-dir)"
            ) from None
        except json.JSONDecodeError as e:
            raise StepError(f"{directory / MANIFEST} is corrupt ({e}): rerun preprocess") from None
        arrays = {}
        for name in names:
            path = directory / manifest["files"][name]
            try:
                with pa.OSFile(str(path)) as f:
                    array = pa.ipc.read_tensor(f).to_numpy()
            except FileNotFoundError:
                if (directory / MANIFEST).exists() and _manifest_changed(directory, manifest):
                    raise _Replaced from None
                raise StepError(f"{path} is missing: rerun preprocess") from None
            except (OSError, pa.ArrowInvalid) as e:
                raise StepError(f"cannot read {path} ({e}): rerun preprocess") from None
            manifests.verify(manifest, name, array, str(path))
            arrays[name] = array
        return arrays, manifest

    def delete(self, run_id: str) -> list[str]:
        directory = splits_dir(self.data_dir, run_id)
        if not directory.exists():
            return []
        deleted = sorted(str(p) for p in directory.iterdir())
        for path in directory.iterdir():
            path.unlink()
        os.rmdir(directory)
        return deleted
