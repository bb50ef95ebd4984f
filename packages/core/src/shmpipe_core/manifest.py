"""The split's manifest: what preprocess wrote, so train and evaluate can refuse anything else.

The checksum is deliberately cheap: a CRC of a few thousand evenly spaced elements plus both ends.
It catches truncation, a wrong or stale object and a layout mix-up without reading gigabytes, so a
zero-copy load stays zero-copy.
"""

import zlib

import numpy as np

from .errors import StepError

_SAMPLES = 4096


def checksum(array: np.ndarray) -> str:
    flat = array.reshape(-1, order="A")
    if flat.size == 0:
        return "crc32:empty"
    step = max(1, flat.size // _SAMPLES)
    sample = np.concatenate([flat[:64], flat[::step], flat[-64:]])
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
