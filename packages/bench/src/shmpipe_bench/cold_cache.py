"""Cold NAS reads: evict a run's split files from the page cache before the next step reads them.

On a real NAS the next pod usually runs on another node, so it reads from the server, not from this
node's page cache. Locally the file preprocess just wrote would still be cached, and a NAS "load"
would time a memcpy from the cache. fsync + posix_fadvise(DONTNEED) drops a file's clean pages
without privileges; dropping every cache (/proc/sys/vm/drop_caches) needs root and is only done
when asked. `resident_bytes` (mincore) checks that the eviction took.
"""

import ctypes
import mmap
import os
from pathlib import Path

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in Path(directory).rglob("*") if p.is_file())


def evict(paths: list[Path]) -> int:
    """Flush and evict each file; the bytes evicted."""
    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            # Dirty pages cannot be dropped: write them back first.
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            total += os.fstat(fd).st_size
        finally:
            os.close(fd)
    return total


def warm(paths: list[Path], chunk: int = 64 << 20) -> int:
    """Read each file once so it sits in the page cache; the bytes read."""
    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            while n := len(os.read(fd, chunk)):
                total += n
        finally:
            os.close(fd)
    return total


def drop_all_caches() -> None:
    """Every clean page cache, dentry and inode of the machine (root only)."""
    os.sync()
    DROP_CACHES.write_text("3\n")


def can_drop_all_caches() -> bool:
    return os.geteuid() == 0 and os.access(DROP_CACHES, os.W_OK)


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
_MAP_FAILED = ctypes.c_void_p(-1).value


def resident_bytes(paths: list[Path]) -> int:
    """How many bytes of these files sit in the page cache now (mincore over a mapping, which
    reads nothing)."""
    page = mmap.PAGESIZE
    total = 0
    for path in paths:
        size = os.path.getsize(path)
        if size == 0:
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if addr in (None, _MAP_FAILED):
                continue
            try:
                pages = (size + page - 1) // page
                vec = (ctypes.c_ubyte * pages)()
                if _libc.mincore(addr, size, vec) == 0:
                    total += sum(b & 1 for b in vec) * page
            finally:
                _libc.munmap(addr, size)
        finally:
            os.close(fd)
    return total
