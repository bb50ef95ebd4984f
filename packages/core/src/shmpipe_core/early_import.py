"""Importing a step's heavy library on a thread while the step reads its inputs.

Train needs scikit-learn only to fit, and importing it (scipy.stats and scipy.sparse with it)
takes 1.5-1.8 s on this project's 2-core VM, all of it in the interpreter. Reading the split
(vineyard's private copy, NAS's file read) is memory and disk work during which numpy lets go of
the GIL. Started before the read, the import runs beside it, on the other core, and the step
waits only for what is left of it.

The thread is a daemon: a step that fails or is interrupted while the import runs exits without
waiting for it.
"""

import importlib
import threading
from types import ModuleType


class EarlyImport:
    def __init__(self, name: str):
        self._module: ModuleType | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(name,), name=f"import {name}", daemon=True
        )
        self._thread.start()

    def _run(self, name: str) -> None:
        try:
            self._module = importlib.import_module(name)
        except BaseException as error:  # re-raised in the thread that asks for the module
            self._error = error

    def module(self) -> ModuleType:
        """The module, once imported; the import's own error if it failed."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._module is not None
        return self._module
