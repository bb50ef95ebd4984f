"""The split's manifest: what preprocess wrote, so train and evaluate can refuse anything else.

The checksum is deliberately cheap: a CRC of both ends and of 512 evenly spaced runs of 8
elements (4,096 in all). It catches truncation, a wrong or stale object and a layout mix-up without
reading gigabytes, so a zero-copy load stays zero-copy; runs rather than single elements, because
each sample costs a page of a mapping touched for the first time (512 pages, not 4,096).
"""

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
        "features": list(features),
        "arrays": {name: describe(a) for name, a in arrays.items()},
    }


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
