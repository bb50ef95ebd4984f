"""What every console script runs first: Ctrl-C while the command's modules still import.

numpy, pyarrow, scikit-learn and vineyard take seconds to import, and a SIGINT then would print a
traceback from deep inside them, before the command's own handling (`cli.run`) exists. Each console
script therefore points at a tiny entry module (`entry.py` beside the command) that imports only
this one, and imports the command itself here, inside the handler.

A command that returns is done: everything it writes is written and closed, and its last line is
printed. What is left is the interpreter's teardown of numpy, scipy, scikit-learn and pandas, about
0.55 s of train's wall time on this project's 2-core VM (0.04 s without it), paid by every step
of every run. `launch` flushes the output and ends the process there; an error leaves through
`SystemExit` and the normal teardown, as before.
"""

import importlib
import os
import sys


def launch(module: str) -> int:
    """Import `module` and run its `main()`; Ctrl-C before that returns handles it: one line,
    exit 130, as a shell reports SIGINT."""
    try:
        code = importlib.import_module(module).main()
    except KeyboardInterrupt:
        # `cli.run` answers an interrupt with SystemExit, never lets it out: this is one that
        # came before (imports, building the parser), when there was nothing to undo.
        sys.stderr.write(f"{os.path.basename(sys.argv[0])}: interrupted\n")
        return 130
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return code  # a closed pipe: the normal exit reports it as Python does
    os._exit(code or 0)
