"""A writer that recommits one run over and over, and a reader that checks every read.

`python -m tests.reliability.churn write|read STORE LOCATION RUN SECONDS`. Generation g fills
every element of every array with g, so a reader can tell a mix of two commits (or memory reused
under it) from a whole one: all arrays of one read must hold one generation, and the store's
manifest check must pass. The reader prints the generations it saw, as JSON.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

NAMES = ("X_train", "y_train", "X_test", "y_test")
# Less than one step's start-up (about 0.3 s), more than a read of this small split takes.
PAUSE_S = 0.1


def open_store(kind: str, location: str):
    if kind == "nas":
        from shmpipe_core.stores.nas import NasStore

        return NasStore(Path(location))
    from shmpipe_core.stores.vineyard import VineyardStore

    return VineyardStore.connect(location)


def write(store, run_id: str, seconds: float) -> None:
    generation = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        generation += 1
        # Sizes change with the generation too: a mix would also show as a shape mismatch.
        rows = 2000 + generation % 7
        writer = store.writer(run_id)
        for name in NAMES:
            shape = (rows, 5) if name.startswith("X") else (rows,)
            writer.allocate(name, shape, "F" if len(shape) == 2 else "C")[...] = generation
        writer.commit(["a", "b", "c", "d", "e"])
        # A rerun is a new step process: reruns are never closer than a process start-up.
        time.sleep(PAUSE_S)
    print(json.dumps({"generations": generation}))


def read(store, run_id: str, seconds: float) -> None:
    from shmpipe_core.errors import StepError

    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            arrays, manifest = store.read(run_id, list(NAMES))
        except StepError as e:
            if "has no split" in str(e) or "no NAS split" in str(e):
                continue  # the first commit is not there yet
            raise
        values = {name: np.unique(a) for name, a in arrays.items()}
        generations = {float(v[0]) for v in values.values()}
        assert all(len(v) == 1 for v in values.values()), f"an array mixes commits: {values}"
        assert len(generations) == 1, f"arrays from different commits: {values}"
        rows = {a.shape[0] for a in arrays.values() if a.ndim}
        assert len(rows) == 1, f"shapes from different commits: {rows}"
        seen.append(generations.pop())
        del arrays, values
        getattr(store, "_held", []).clear()  # let the writer's deletes free memory
    print(json.dumps({"reads": len(seen), "distinct": len(set(seen))}))


if __name__ == "__main__":
    action, kind, location, run_id, seconds = sys.argv[1:]
    store = open_store(kind, location)
    (write if action == "write" else read)(store, run_id, float(seconds))
