"""A run id held by one pipeline, or by the cleanup deleting its split: a second pipeline with the
same id is refused, and cleanup skips a run whose pipeline still runs."""

from contextlib import contextmanager
from pathlib import Path

from .errors import StepError
from .files import locked
from .layout import RunLayout


@contextmanager
def try_hold(data_dir: Path, run_id: str, create: bool = False, shared: bool = False):
    """Yields whether the run is now held here: False when another process holds it. A run
    with no directory (`create` False) is held trivially: no pipeline of it runs. Cleanups hold
    it `shared`: two of them at once are fine (the split's own lock orders their deletes)."""
    paths = RunLayout(data_dir, run_id)
    if create:
        paths.dir.mkdir(parents=True, exist_ok=True)
    with locked(paths.pipeline_lock, shared=shared, wait=False) as state:
        yield state is not False


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
