"""The raw housing table on the shared volume: one Arrow IPC file, one record batch, int64 columns.

One batch keeps every column contiguous in the file, so preprocess can map the file and gather
from a column in place, then hand that column's pages back: its memory stays near one column,
not the whole table.
"""

import mmap
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from .dataset import COLUMN_NAMES, ROWS_PER_MULTIPLIER, raw_path
from .errors import StepError
from .files import atomic_path
from .pages import drop_pages, populate_for_read

SCHEMA = pa.schema([pa.field(name, pa.int64(), nullable=False) for name in COLUMN_NAMES])


def write(path: Path, columns: dict[str, np.ndarray]) -> None:
    # from_buffers wraps the numpy memory as is; pa.array() would first import pandas (seconds).
    arrays = [
        pa.Array.from_buffers(pa.int64(), len(columns[n]), [None, pa.py_buffer(columns[n])])
        for n in COLUMN_NAMES
    ]
    batch = pa.record_batch(arrays, schema=SCHEMA)
    with (
        atomic_path(path) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_file(sink, SCHEMA) as writer,
    ):
        writer.write_batch(batch)


class RawTable:
    def __init__(self, data_dir: Path, multiplier: int):
        self.path = raw_path(data_dir, multiplier)
        hint = f"run `prepare-data --multiplier {multiplier} --data-dir {data_dir}`"
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise StepError(f"raw data {self.path} does not exist: {hint} first") from None
        except OSError as e:
            raise StepError(f"cannot open raw data {self.path} ({e.strerror})") from None
        try:
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
