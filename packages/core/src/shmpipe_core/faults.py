"""Test-only fault points: a step stops itself at a named point so a test can SIGKILL it there.

The reliability tests must kill a step in the middle of its save, not before or after it, every
time; timing a kill against a save that takes milliseconds would be flaky. With
`SHMPIPE_FAULT_STOP=<point>` in its environment a step sends itself SIGSTOP on reaching that point,
and the test, which sees the process stopped, kills it. Without the variable a point costs one
dictionary lookup.
"""

import os
import signal
import sys

ENV = "SHMPIPE_FAULT_STOP"


def point(name: str) -> None:
    if os.environ.get(ENV) == name:
        print(f"fault point {name}: stopped", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)
