"""What every console script runs first (through the `entry.py` beside its command): the
command's heavy imports happen here, so Ctrl-C during them is one line, not a traceback; and a
command that returned ends at once, skipping the interpreter's teardown of numpy and scipy
(half a second of every train pod)."""

import importlib
import os
import sys


def launch(module: str) -> int:
    """Import `module` and run its `main()`; Ctrl-C meanwhile: one line, exit 130."""
    try:
        code = importlib.import_module(module).main()
    except KeyboardInterrupt:
        # `cli.run` handles interrupts once it runs: this one came before, with nothing to undo.
        sys.stderr.write(f"{os.path.basename(sys.argv[0])}: interrupted\n")
        return 130
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return code  # a closed pipe: the normal exit reports it as Python does
    os._exit(code or 0)
