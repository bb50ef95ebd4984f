"""The raw housing table on the shared volume: one Arrow IPC file, one record batch, int64 columns.

One batch keeps every column contiguous in the file, so preprocess can map the file and gather
from a column in place, then hand that column's pages back: its memory stays near one column,
not the whole table.
"""

import mmap
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from .dataset import COLUMN_NAMES, ROWS_PER_MULTIPLIER, raw_path
from .errors import StepError
from .files import atomic_path
from .pages import drop_pages, populate_for_read

SCHEMA = pa.schema([pa.field(name, pa.int64(), nullable=False) for name in COLUMN_NAMES])


def write(path: Path, rows: int, columns: Iterable[tuple[str, np.ndarray]]) -> None:
    """Write the table from `columns`, (name, values) in file order, holding about one column in
    memory at a time, not the table.

    pyarrow writes the file's layout (schema, one record batch, padding, footer) from columns of
    untouched zero memory: one calloc'ed array for all of them, whose pages read as the kernel's
    zero page, so writing it does not grow this process's memory. The columns are then copied
    into the written file through a shared mapping, one at a time, each one's pages handed back
    once it is in; the file holds what pyarrow writes from the real columns, byte for byte, since
    nothing in the layout depends on the values (no statistics, no compression, no nulls).
    """
    zeros = np.zeros(rows, dtype=np.int64)
    # from_buffers wraps the numpy memory as is; pa.array() would first import pandas (seconds).
    placeholder = pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(zeros)])
    batch = pa.record_batch([placeholder] * len(COLUMN_NAMES), schema=SCHEMA)
    with atomic_path(path) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
            writer.write_batch(batch)
        del batch, placeholder, zeros
        _fill(tmp, rows, columns)


def _fill(tmp: Path, rows: int, columns: Iterable[tuple[str, np.ndarray]]) -> None:
    """Copy each column into its data buffer in the written file `tmp`."""
    fd = os.open(tmp, os.O_RDWR)
    try:
        mapping = mmap.mmap(fd, 0)
    finally:
        os.close(fd)
    # On an error the views into the mapping live on in the traceback: the mapping is unmapped
    # when they go, and atomic_path removes the file.
    _copy_columns(mapping, rows, columns)
    mapping.flush()
    mapping.close()


def _copy_columns(mapping: mmap.mmap, rows: int, columns: Iterable[tuple[str, np.ndarray]]):
    whole = np.frombuffer(mapping, dtype=np.uint8)
    # Where pyarrow put each column, found the way every reader finds it (the footer's block, the
    # batch's buffer offsets), as addresses in this mapping.
    batch = pa.ipc.open_file(pa.py_buffer(mapping)).get_batch(0)
    offsets = {
        name: batch.column(name).buffers()[1].address - whole.ctypes.data for name in COLUMN_NAMES
    }
    del batch
    names = iter(COLUMN_NAMES)
    for name, values in columns:
        if name != next(names, None) or values.shape != (rows,) or values.dtype != np.int64:
            raise ValueError(f"column {name} is not the next int64 column of {rows:,} rows")
        target = whole[offsets[name] : offsets[name] + rows * 8].view(np.int64)
        target[:] = values
        # The written pages stay in the page cache, dirty; only this process's mapping of them
        # goes, so its memory stays near one column.
        drop_pages(target)
        del values, target  # before the next column is drawn: one column held, not two
    if next(names, None) is not None:
        raise ValueError("fewer columns than the schema has")


class RawTable:
    def __init__(self, data_dir: Path, multiplier: int):
        self.path = raw_path(data_dir, multiplier)
        hint = f"run `prepare-data --multiplier {multiplier} --data-dir {data_dir}`"
        try:
            # Non-blocking: a FIFO there must not hang the step; it is refused below. (A link
            # is followed: where the table lies is the user's choice.)
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StepError(f"raw data {self.path} does not exist: {hint} first") from None
        except OSError as e:
            raise StepError(f"cannot open raw data {self.path} ({e.strerror})") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StepError(f"raw data {self.path} is not a regular file: {hint} again")
            self._map = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        except (OSError, ValueError) as e:
            raise StepError(f"cannot map raw data {self.path} ({e}): {hint} again") from None
        finally:
            os.close(fd)
        try:
            reader = pa.ipc.open_file(pa.py_buffer(self._map))
            if not reader.schema.equals(SCHEMA):
                missing = sorted(set(COLUMN_NAMES) - set(reader.schema.names))
                extra = sorted(set(reader.schema.names) - set(COLUMN_NAMES))
                raise StepError(
                    f"raw data {self.path} has the wrong columns (missing {missing}, extra "
                    f"{extra}, or other types or order): {hint} again"
                )
            if reader.num_record_batches != 1:
                raise StepError(f"raw data {self.path} is not one record batch: {hint} again")
            self._batch = reader.get_batch(0)
            self._batch.validate()
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
            raise StepError(
                f"raw data {self.path} is corrupt or truncated ({e}): {hint} again"
            ) from None
        expected = multiplier * ROWS_PER_MULTIPLIER
        if self._batch.num_rows != expected:
            raise StepError(
                f"raw data {self.path} has {self._batch.num_rows:,} rows, not {expected:,}: "
                f"{hint} again"
            )

    @property
    def num_rows(self) -> int:
        return self._batch.num_rows

    @property
    def nbytes(self) -> int:
        return len(self._map)

    def column(self, name: str) -> np.ndarray:
        """A read-only int64 view of the column in the mapped file, its pages faulted in at once."""
        column = self._batch.column(name)
        # Straight from the buffer: Array.to_numpy() would first import pandas (seconds).
        array = np.frombuffer(
            column.buffers()[1], dtype=np.int64, count=len(column), offset=column.offset * 8
        )
        # One call instead of one fault per page; older kernels fault them in as they are read.
        populate_for_read(array)
        return array

    def release(self, array: np.ndarray) -> None:
        """Unmap a column's pages from this process (the page cache keeps them); pages shared with
        a neighbouring column, which another thread may be reading, stay."""
        drop_pages(array)
