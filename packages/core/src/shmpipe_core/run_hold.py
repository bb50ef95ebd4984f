"""A run id held by one pipeline, or by the cleanup deleting its split: a second pipeline with the
same id is refused, and cleanup skips a run whose pipeline still runs."""

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from .dataset import run_dir
from .errors import StepError

# Beside the split's own lock (nas_store's), and not that one: a step's writer takes that one.
PIPELINE_LOCK = ".pipeline.lock"


@contextmanager
def try_hold(data_dir: Path, run_id: str, create: bool = False, shared: bool = False):
    """Yields whether the run is now held here: False when another process holds it. A run
    with no directory (`create` False) is held trivially: no pipeline of it runs. Cleanups hold
    it `shared`: two of them at once are fine (the split's own lock orders their deletes)."""
    directory = run_dir(data_dir, run_id)
    if create:
        directory.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(directory / PIPELINE_LOCK, flags, 0o600)
    except FileNotFoundError:
        if create:
            raise
        yield True
        return
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StepError(f"{directory / PIPELINE_LOCK} is a symbolic link: remove it") from None
        raise
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextmanager
def held(data_dir: Path, run_id: str):
    """Hold the run id for one pipeline: a second pipeline with the same id would delete the
    first one's split in its end-of-run cleanup. Refused at once rather than queued: two runs
    under one id are a mistake, not a wait."""
    with try_hold(data_dir, run_id, create=True) as got:
        if not got:
            raise StepError(
                f"run id {run_id} is in use by another pipeline (or a cleanup); pick another "
                "--run-id"
            )
        yield
