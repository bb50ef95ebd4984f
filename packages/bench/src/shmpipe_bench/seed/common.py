"""What the seed's three steps share: their flags, where their data lives, and the page-in phase."""

import argparse
from pathlib import Path

from shmpipe_core.cli import Parser, add_data_dir, add_debug, add_run_id, add_store
from shmpipe_core.layout import RunLayout
from shmpipe_core.pages import populate_for_read

# The seed's four objects (it names its files and vineyard objects x_train.pkl, ...).
SPLIT_FILES = {"X_train": "x_train", "X_test": "x_test", "y_train": "y_train", "y_test": "y_test"}


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = Parser(prog=prog, description=description)
    # No --vineyard-socket: the seed's steps connect as the seed's do, from VINEYARD_IPC_SOCKET.
    add_store(p, "--store", vineyard_socket=False)
    add_data_dir(p)
    add_run_id(p)
    add_debug(p)
    return p


def seed_dir(data_dir: Path, run_id: str) -> Path:
    """The run's pickles on the shared volume (the seed writes them straight under /data)."""
    return RunLayout(data_dir, run_id).dir / "seed"


def pickle_path(data_dir: Path, run_id: str, name: str) -> Path:
    return seed_dir(data_dir, run_id) / f"{SPLIT_FILES[name]}.pkl"


def model_path(data_dir: Path, run_id: str) -> Path:
    return seed_dir(data_dir, run_id) / "model.pkl"


def object_name(run_id: str, name: str) -> str:
    """The vineyard name of one of the run's frames; under `<run-id>/` so `cleanup` finds it."""
    return f"{run_id}/{SPLIT_FILES[name]}"


def delete_objects(socket: str, run_id: str) -> None:
    """The seed steps' vineyard objects, by the names they gave them: the project's cleanup
    deletes only names the project writes."""
    from shmpipe_core.vineyard.client import try_connect, vineyard_c

    client = try_connect(socket)
    if client is None:
        return
    try:
        for name in SPLIT_FILES:
            try:
                object_id = client.get_name(object_name(run_id, name))
            except vineyard_c().ObjectNotExistsException:
                continue
            client.delete(object_id, force=False, deep=True)
            client.drop_name(object_name(run_id, name))
    finally:
        client.close()


def frame_bytes(frame) -> int:
    """Bytes a DataFrame or Series holds, index included (what a handoff moves)."""
    usage = frame.memory_usage(index=True, deep=False)
    return int(usage.sum()) if hasattr(usage, "sum") else int(usage)


def page_in(frame) -> None:
    """Map every page under the frame's columns in one call per column.

    `vineyard.get` returns columns that are views of shared memory (packages/core/NOTES.md,
    Tensors), faulted in page by page on first use (inside `fit` or
    `predict`); the frames read from a pickle are resident already and the calls find nothing to
    do. Done for both stores, so that compute is the same work.
    """
    columns = [frame] if frame.ndim == 1 else [frame[c] for c in frame.columns]
    for column in columns:
        values = column.to_numpy()
        if values.flags.c_contiguous:
            populate_for_read(values)
