"""What every console script runs first: Ctrl-C while the command's modules still import.

numpy, pyarrow, scikit-learn and vineyard take seconds to import, and a SIGINT then would print a
traceback from deep inside them, before the command's own handling (`cli.run`) exists. Each console
script therefore points at a tiny entry module (`entry.py` beside the command) that imports only
this one, and imports the command itself here, inside the handler.
"""

import importlib
import os
import sys


def launch(module: str) -> int:
    """Import `module` and run its `main()`; Ctrl-C before that returns handles it: one line,
    exit 130, as a shell reports SIGINT."""
    try:
        return importlib.import_module(module).main()
    except KeyboardInterrupt:
        # `cli.run` answers an interrupt with SystemExit, never lets it out: this is one that
        # came before (imports, building the parser), when there was nothing to undo.
        sys.stderr.write(f"{os.path.basename(sys.argv[0])}: interrupted\n")
        return 130
