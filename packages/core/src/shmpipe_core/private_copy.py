"""A step's own, writable copy of an array a store handed it read-only, for train's scikit-learn
fallback, which centres X in place: fresh private memory (huge pages where the kernel gives them),
copied a stretch at a time with the shared pages unmapped behind it, so the process never holds
the split twice.
"""

import numpy as np

from .pages import drop_pages

# Bytes per stretch: large enough that the per-call costs vanish, small against the split.
STRETCH = 64 << 20


def private_copy(array: np.ndarray) -> np.ndarray:
    """`array` itself where writable (the caller's own); else a copy in the same memory order."""
    if array.flags.writeable:
        return array
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        return array.copy()
    order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    copy = np.empty(array.shape, dtype=array.dtype, order=order)
    source, target = array.ravel(order=order), copy.ravel(order=order)
    step = max(1, STRETCH // array.itemsize)
    for start in range(0, source.size, step):
        target[start : start + step] = source[start : start + step]
        drop_pages(source[start : start + step])
    # Pages straddling two stretches were kept by the per-stretch calls.
    drop_pages(source)
    return copy
