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


def _raise(signum, _frame):
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
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
