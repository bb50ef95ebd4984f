"""The console script: imports the command only inside `launch`, so Ctrl-C while its modules
import is one line, not a traceback (see shmpipe_core.launch)."""

from shmpipe_core.launch import launch


def main() -> int:
    return launch("shmpipe_train.cli")
