"""The split's manifest: what preprocess wrote, so train and evaluate can refuse anything else.

The checksum is deliberately cheap: a CRC of both ends and of 512 evenly spaced runs of 8
elements (4,096 in all). It catches truncation, a wrong or stale object and a layout mix-up without
reading gigabytes, so a zero-copy load stays zero-copy; runs rather than single elements, because
each sample costs a page of a mapping touched for the first time (512 pages, not 4,096).
"""

import json
import re
import uuid
import zlib

import numpy as np

from .errors import StepError

_RUNS, _RUN = 512, 8


def checksum(array: np.ndarray) -> str:
    flat = array.reshape(-1, order="A")
    if flat.size == 0:
        return "crc32:empty"
    starts = np.linspace(0, max(0, flat.size - _RUN), _RUNS).astype(np.int64)
    runs = np.minimum(starts[:, None] + np.arange(_RUN), flat.size - 1)
    sample = np.concatenate([flat[:64], flat[runs.ravel()], flat[-64:]])
    return f"crc32:{zlib.crc32(np.ascontiguousarray(sample).tobytes()):08x}"


def describe(array: np.ndarray) -> dict:
    order = "F" if array.ndim > 1 and array.flags.f_contiguous else "C"
    return {
        "shape": list(array.shape),
        "dtype": array.dtype.str,
        "order": order,
        "checksum": checksum(array),
    }


def build(arrays: dict[str, np.ndarray], features: list[str], run_id: str) -> dict:
    return {
        "format": "shmpipe-splits/1",
        "run_id": run_id,
        # Which commit this is: the model records it, and evaluate refuses a model of another.
        "commit": uuid.uuid4().hex,
        "features": list(features),
        "arrays": {name: describe(a) for name, a in arrays.items()},
    }


def parse(text, where: str):
    """The manifest's JSON, or StepError: not text, not JSON, or nested too deep for json."""
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:  # ValueError: JSON and UTF-8 errors
        raise StepError(
            f"{where} is corrupt ({type(e).__name__}: {' '.join(str(e).split())[:100]}): "
            "rerun preprocess to rewrite the split"
        ) from None


def check(manifest, where: str, names: list[str], files: bool = False) -> None:
    """Refuse a manifest that is not one preprocess writes, before anything uses its fields.

    `files`: the NAS manifest also names each array's file, which must be a plain name in the
    splits directory (a path such as `../../etc/passwd` would read outside it).
    """

    def corrupt(what: str) -> StepError:
        return StepError(f"{where} is corrupt ({what}): rerun preprocess to rewrite the split")

    if not isinstance(manifest, dict):
        raise corrupt("not a JSON object")
    arrays, features = manifest.get("arrays"), manifest.get("features")
    if not isinstance(arrays, dict) or not all(isinstance(a, dict) for a in arrays.values()):
        raise corrupt("no 'arrays' object")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise corrupt("no 'features' list")
    if not isinstance(manifest.get("commit"), str):
        raise corrupt("no 'commit' id")
    for name in names:
        if name not in arrays:
            raise corrupt(f"no array {name!r}")
        if not {"shape", "dtype", "checksum"} <= arrays[name].keys():
            raise corrupt(f"array {name!r} lacks shape, dtype or checksum")
    if files:
        listed = manifest.get("files")
        if not isinstance(listed, dict):
            raise corrupt("no 'files' object")
        for name in names:
            filename = listed.get(name)
            if not isinstance(filename, str) or not _PLAIN_NAME.fullmatch(filename):
                raise corrupt(f"file of {name} is {filename!r}, not a plain file name")


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def verify(manifest: dict, name: str, array: np.ndarray, where: str) -> None:
    expected = manifest["arrays"].get(name)
    if expected is None:
        raise StepError(f"{where}: the manifest lists no array {name!r}; rerun preprocess")
    actual = describe(array)
    for key in ("shape", "dtype", "checksum"):
        if actual[key] != expected[key]:
            raise StepError(
                f"{where}: {name} does not match its manifest ({key} {actual[key]} != "
                f"{expected[key]}); the split is damaged or from another run: rerun preprocess"
            )


def check_finite(arrays: dict[str, np.ndarray], run_id: str) -> None:
    """Refuse a split holding NaN or infinity: preprocess never writes one, and the checksum,
    which samples, can miss one. A full scan, so called only once a computation went wrong."""
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise StepError(
                f"{name} of run {run_id!r}'s split holds NaN or infinite values (preprocess "
                "writes none; the checksum samples and missed them): rerun preprocess"
            )


def verify_unchanged(manifest: dict, name: str, array: np.ndarray, run_id: str) -> None:
    """Check again, after a step used it, an array it read zero-copy.

    vineyardd frees a deleted object's memory even while a reader maps it, and the next
    allocation may reuse it: the array would change under the reader. The checksum samples
    elements (see `checksum`), so a change that misses every sample goes unseen.
    """
    if checksum(array) != manifest["arrays"][name]["checksum"]:
        raise StepError(
            f"{name} of run {run_id!r} changed in shared memory while this step used it (the "
            "run was cleaned up, or rerun twice, meanwhile and vineyard reused its memory): "
            "nothing was written; rerun preprocess and this step, and run cleanup only after "
            "the run's steps have ended"
        )
