"""A run split into partitions: which raw rows each holds, and the small JSON records its steps
leave under the run's `parts/` for the next step and for the merges.

preprocess writes each partition's placement (where its split lives, on which node), train each
partition's least-squares moments, evaluate each partition's sum of squared errors. The merges
read them in partition order; JSON keeps every float64 exactly (its shortest repr), so a merged
result does not depend on which process computed what.
"""

import json
import os
import socket
from pathlib import Path

import numpy as np

from .errors import StepError
from .files import read_small_file, write_json
from .layout import RunLayout
from .lstsq import Moments
from .step_contract import NODE_ENV

# A record holds at most a 46 x 46 matrix (about 40 kB as JSON): the cap is far above it.
RECORD_MAX_BYTES = 1 << 20
# A model fitted on several partitions records each one's split commit, in partition order.
COMMIT_SEPARATOR = ","


def row_range(rows: int, partitions: int, partition: int) -> tuple[int, int]:
    """The raw table's rows [begin, end) of one partition: contiguous, sizes differing by 1."""
    return rows * partition // partitions, rows * (partition + 1) // partitions


def within(rows: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The row numbers of ascending `rows` in [begin, end): a view, nothing copied."""
    return rows[np.searchsorted(rows, begin) : np.searchsorted(rows, end)]


def node_name() -> str:
    """The node this process runs on: the pod's, given by Kubernetes, else this host's."""
    return os.environ.get(NODE_ENV) or socket.gethostname()


MERGE = "merge"


def step_name(step: str, partition: int | None, merge: bool = False) -> str:
    """The name under which a process of `step` keeps its record (runs/<id>/steps/<name>.json)."""
    if merge:
        return f"{step}-{MERGE}"
    return step if partition is None else f"{step}-{partition}"


def stage_of(name: str) -> str | None:
    """The step a process named by `step_name` is of; None for a merge (it moves no split)."""
    step, _, last = name.rpartition("-")
    if last == MERGE:
        return None
    return step or last


def split_commits(model: dict, partitions: int) -> list[str]:
    """The split commits a model was fitted on, one per partition."""
    commits = model["split_commit"].split(COMMIT_SEPARATOR)
    return commits if len(commits) == partitions else []


def save(layout: RunLayout, step: str, partition: int, partitions: int, record: dict) -> None:
    write_json(
        layout.part(step, partition), {"partition": partition, "partitions": partitions, **record}
    )


def load(layout: RunLayout, step: str, partition: int, partitions: int) -> dict:
    """One partition's record, checked to be of this partitioning."""
    path = layout.part(step, partition)

    def bad(what: str) -> StepError:
        return StepError(f"cannot read {path} ({what}): rerun {step} --partition {partition}")

    try:
        record = json.loads(read_small_file(path, RECORD_MAX_BYTES, bad, follow_links=False))
    except FileNotFoundError:
        raise StepError(
            f"partition {partition} of run {layout.run_id!r} has no {step} result ({path}): run "
            f"`{step} --partitions {partitions} --partition {partition}` first"
        ) from None
    except (ValueError, RecursionError) as e:
        raise bad(f"not JSON: {e}") from None
    if not isinstance(record, dict) or record.get("partitions") != partitions:
        raise StepError(
            f"{path} is not partition {partition} of {partitions} (a run with another "
            f"--partitions left it): rerun {step} for every partition"
        )
    return record


def load_all(layout: RunLayout, step: str, partitions: int) -> list[dict]:
    return [load(layout, step, p, partitions) for p in range(partitions)]


def moments_record(m: Moments) -> dict:
    return {"rows": m.rows, "mean": m.mean.tolist(), "scatter": m.scatter.tolist()}


def moments_of(record: dict, where: Path) -> Moments:
    try:
        mean = np.asarray(record["mean"], dtype=np.float64)
        scatter = np.asarray(record["scatter"], dtype=np.float64)
        rows = record["rows"]
    except (KeyError, TypeError, ValueError) as e:
        raise StepError(f"{where} holds no moments ({e}): rerun train for it") from None
    if not isinstance(rows, int) or mean.ndim != 1 or scatter.shape != (mean.size, mean.size):
        raise StepError(f"{where} holds no moments (shapes do not match): rerun train for it")
    return Moments(rows, mean, scatter)
