"""Atomic file writes (a reader sees the old file or the new one, never half of one), and the
bounded read of the small files steps hand each other."""

import errno
import fcntl
import json
import os
import shutil
import stat
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from .errors import StepError
from .sizes import human

NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def refuse_links(base: Path, path: Path) -> Path:
    """`path`, once no component of it below `base` is a symbolic link.

    Everything a step writes or deletes lies under the data dir: a link there (planted, or left by
    a careless copy) would lead its writes and deletions elsewhere. `base` itself may be a link:
    the data dir is the user's choice.
    """
    base, path = Path(base), Path(path)
    current = base
    for part in path.relative_to(base).parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            break
        except NotADirectoryError:
            break  # a file where a directory belongs: the caller's open reports it
        if stat.S_ISLNK(info.st_mode):
            raise StepError(
                f"{current} is a symbolic link: shmpipe never follows links inside the data dir "
                "(they would lead its writes and deletions outside it); remove the link"
            )
    return path


def read_small_file(
    path: Path, limit: int, bad: Callable[[str], Exception], follow_links: bool = True
) -> str:
    """The UTF-8 text of the regular file `path`, at most `limit` bytes, or `bad(reason)` raised.

    For the small files a step reads (a config, a model, a manifest): whoever can write where
    they lie could put a FIFO there, whose open would block the step forever, or a huge file (or a
    link to /dev/zero), which read whole would fill memory. So the open does not block, anything
    but a regular file is refused unread, and no more than `limit` + 1 bytes are ever read.
    `follow_links=False` refuses a link in the last component too, for files inside the data dir
    (see `refuse_links`). A missing file raises FileNotFoundError: callers say which step makes it.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_links and os.path.islink(path):
            raise bad("a symbolic link: shmpipe follows none inside the data dir") from None
        raise bad(e.strerror or type(e).__name__) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise bad("not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise bad(e.strerror or type(e).__name__) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise bad(f"larger than {human(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None


def _mount_point(path: Path) -> Path:
    path = Path(path).resolve()
    while not os.path.ismount(path):
        path = path.parent
    return path


def no_space(path: Path, then: str, needed: int | None = None, what: str = "it") -> StepError:
    """The one line for a write to `path` that found its volume (or quota) full: which mount,
    how much to free (when the size `needed` is known), and what to do then."""
    mount = _mount_point(path)
    free = shutil.disk_usage(mount).free
    if os.statvfs(mount).f_favail == 0:
        return StepError(
            f"no free inodes left on {mount} (it holds as many files as it can; {human(free)} "
            f"of space is free): delete files there, then {then}"
        )
    if needed is None:
        return StepError(
            f"no space left on {mount} ({human(free)} free): free space there, then {then}"
        )
    return StepError(
        f"no space left on {mount}: free {human(max(1, needed - free))} ({what} needs "
        f"{human(needed)}, {human(free)} are free), then {then}"
    )


def open_dir(path: Path) -> int:
    """A descriptor of the directory `path` itself, refusing a link in its last component."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
            raise StepError(f"{path} is a symbolic link: remove it") from None
        raise


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path):
    """A temp path beside `path` to write; then it is fsynced and renamed over `path`.

    For writers that open files themselves, such as pyarrow's native `OSFile` (a Python file
    object wrapped in `pa.PythonFile` costs a copy of every buffer written through it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)  # a write() that failed names no file: say which one
        raise
    fsync_dir(path.parent)


@contextmanager
def atomic_file(path: Path, mode: str = "wb"):
    """Write to a temp file beside `path`, fsync it, then rename it over `path`."""
    with atomic_path(path) as tmp, open(tmp, mode) as f:
        yield f


def write_json(path: Path, value) -> None:
    with atomic_file(path, "w") as f:
        json.dump(value, f, indent=2, allow_nan=False)  # NaN is not JSON: refuse, never write it
        f.write("\n")


@contextmanager
def locked(path: Path, shared: bool = False, wait: bool = True):
    """Hold an flock on the lock file `path` (created, never through a link). Yields True once
    held, False where `wait` is off and another process holds it, None where the directory
    is missing (nothing to lock)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        yield None
        return
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StepError(f"{path} is a symbolic link: remove it") from None
        raise
    try:
        try:
            mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
