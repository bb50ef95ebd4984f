"""SIGINT and SIGTERM as exceptions a step can clean up after, and stretches they cannot cut.

A step that dies by the default SIGTERM action leaves what it allocated in vineyardd, which
nothing can free until vineyardd restarts. Raised as `Interrupted` instead, the signal unwinds the
step through its `except`/`finally` blocks: an interrupted commit deletes what it made.
"""

import signal
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The step got SIGINT or SIGTERM; `exit_code` is 128 + the signal's number, as a shell's."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


# Inside `signals_deferred`: how deep, and the signals its mask did not hold.
_deferring = 0
_held: list[int] = []


def _raise(signum, _frame):
    if _deferring:
        # The mask holds a signal for the main thread only: one the kernel gave another thread
        # (vineyard's, arrow's) while the main one was past its last check, or one pending
        # before the block began, reaches this handler inside the block all the same.
        _held.append(signum)
        return
    raise Interrupted(signum)


@contextmanager
def interruptible():
    """SIGINT and SIGTERM raise `Interrupted` inside the block (in the main thread; elsewhere
    the caller's handlers stay); the handlers before it come back after it."""
    try:
        previous = {signum: signal.signal(signum, _raise) for signum in HANDLED}
    except ValueError:  # not the main thread
        previous = {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM until the block is done: it runs whole, then the signal lands."""
    global _deferring
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if not _deferring and _held:
            signum = _held[0]
            _held.clear()
            raise Interrupted(signum)
