"""Faulting a mapped array's pages in, or out, by the range instead of by the page.

vineyard's shared memory gets no huge pages, so a fill faults once per 4 KiB; one madvise per
range is three times faster, and on an arena vineyardd already holds, a read-populate maps it
writable with a sixteenth of the faults (bench/README.md, "What else our steps do
differently"). Kernels before 5.14 refuse the call and pages fault in as they are touched.
"""

import ctypes
import mmap

import numpy as np

MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)


def _advise(array: np.ndarray, advice: int, whole_pages_only: bool = False) -> bool:
    """madvise the pages under an array: every page it touches, or only those wholly inside it
    (so a neighbour sharing the edge pages is left alone)."""
    page = mmap.PAGESIZE
    begin, end = array.ctypes.data, array.ctypes.data + array.nbytes
    if whole_pages_only:
        begin, end = -(-begin // page) * page, end // page * page
    else:
        begin, end = begin // page * page, -(-end // page) * page
    if end <= begin:
        return True
    return _libc.madvise(begin, end - begin, advice) == 0


def populate_for_write(array: np.ndarray) -> bool:
    """Fault in every page of a writable array's memory; False where the kernel cannot."""
    return _advise(array, MADV_POPULATE_WRITE)


def populate_for_read(array: np.ndarray) -> bool:
    """Fault in every page under a mapped array at once; False where the kernel cannot."""
    return _advise(array, MADV_POPULATE_READ)


def drop_pages(array: np.ndarray) -> None:
    """Unmap the pages wholly inside a mapped array from this process; a file mapping's data
    stays in the page cache and faults back in if read again."""
    _advise(array, mmap.MADV_DONTNEED, whole_pages_only=True)


def shared_mapping(array: np.ndarray) -> bool:
    """Whether all of an array's memory lies in shared mappings (a file's, or vineyard's memfd):
    only there does `drop_pages` keep the data; on private memory it would zero it."""
    begin, end = array.ctypes.data, array.ctypes.data + array.nbytes
    with open("/proc/self/maps") as f:
        for line in f:
            span, perms = line.split(maxsplit=2)[:2]
            low, high = (int(x, 16) for x in span.split("-"))
            if low <= begin < high:
                if perms[3] != "s":
                    return False
                if end <= high:
                    return True
                begin = high
    return False
