"""A step's own, writable copy of an array a store handed it read-only (vineyard's shared memory).

scikit-learn centres X in place when it may (`copy_X=False`) and copies any read-only input first
(X or y). Train makes those copies itself, as a phase of its own (the store's doing, part of the
handoff), into fresh private memory, which numpy asks the kernel to back with transparent huge
pages. A copy-on-write mapping of vineyard's memfd instead takes its private pages 4 KiB at a time
(vineyard's shared memory gets no huge pages: pages.py says why): measured on this project's
2-core VM for the 5.7 GB split at M=2000, 2.3-2.7 s for this copy against 4.5-14 s to fault in the
copy-on-write mapping.

The copy goes a stretch at a time, and each stretch's shared pages are unmapped from the process
once copied (vineyard keeps the data): the process never holds the split twice, so its peak RSS is
that of the copy alone, as for NAS, which reads the split into private memory.
"""

import numpy as np

from .pages import drop_pages

# Bytes per stretch: large enough that the per-call costs vanish, small against the split.
STRETCH = 64 << 20


def private_copy(array: np.ndarray) -> np.ndarray:
    """`array` itself where it is writable (a store hands out writable arrays only when they
    are the caller's own); else a writable copy in fresh memory, in the same memory order, with
    the source's pages unmapped from this process as they are copied."""
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
