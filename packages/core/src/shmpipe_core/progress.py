"""Progress bars on stderr for the long parts of a local run, when someone is watching.

Bars show when stderr is a terminal, or when the local runner asks for them with
SHMPIPE_PROGRESS=1 (a step's stderr is then a pipe to the runner, which passes it on);
SHMPIPE_PROGRESS=0 turns them off. tqdm is the optional extra `shmpipe-core[progress]`: the
runner installs it, the step images do not, and without it there are no bars, nothing else changes.
"""

import os
import sys

ENV = "SHMPIPE_PROGRESS"


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def enabled() -> bool:
    setting = os.environ.get(ENV)
    if setting in ("0", "1"):
        return setting == "1"
    return sys.stderr.isatty()


def bar(total: float, desc: str, unit: str = "it"):
    """A bar that counts to `total` (a tqdm), or one that draws nothing."""
    if not enabled():
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    # tqdm turns itself off for a non-tty stream unless told: the runner's pipe is wanted here.
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True)
