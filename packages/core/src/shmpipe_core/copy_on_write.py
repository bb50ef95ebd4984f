"""Writable, copy-on-write views of vineyard shared memory.

scikit-learn centres X in place when it may (`copy_X=False`) and otherwise copies it; given a
read-only array it always copies it first. A private (MAP_PRIVATE) mapping of the same shared
memory is writable without touching the shared object: pages are shared until written, and a
written page becomes the process's own. Train thus gets its split without a copy, and pays only
for the pages it changes, once, instead of a full copy before it starts.

vineyard's client maps its whole memfd arena read-only and keeps the descriptor open; we map the
array's range of that same descriptor again, privately.
"""

import mmap
import os

import numpy as np


def _mapping_of(address: int) -> tuple[int, int, tuple[int, int]]:
    """(start, file offset, (device, inode)) of the mapping in this process holding `address`."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                major, minor = (int(x, 16) for x in fields[3].split(":"))
                return start, int(fields[2], 16), (os.makedev(major, minor), int(fields[4]))
    raise LookupError(f"no mapping holds address {address:#x}")


def _descriptor_of(file_id: tuple[int, int]) -> int:
    # Inode numbers repeat across file systems (a pipe's can equal the memfd's): match the
    # device too, or we would map the wrong file.
    for name in os.listdir("/proc/self/fd"):
        try:
            info = os.stat(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == file_id:
            return int(name)
    raise LookupError(f"no open descriptor for file {file_id}")


def copy_on_write(array: np.ndarray) -> np.ndarray:
    """A writable view of `array`'s shared memory whose writes stay in this process.

    Falls back to the read-only array itself when its memory is not a mapped file we hold open.
    """
    if array.size == 0 or array.flags.writeable:
        return array
    base_address = array.ctypes.data
    try:
        start, file_offset, file_id = _mapping_of(base_address)
        fd = _descriptor_of(file_id)
    except LookupError:
        return array
    offset = file_offset + base_address - start
    aligned = offset - offset % mmap.ALLOCATIONGRANULARITY
    span = offset - aligned + array.nbytes
    region = mmap.mmap(
        fd, span, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=aligned
    )
    flat = np.frombuffer(region, dtype=array.dtype, count=array.size, offset=offset - aligned)
    strides_order = "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    view = flat.reshape(array.shape, order=strides_order)
    assert view.strides == array.strides
    return view
