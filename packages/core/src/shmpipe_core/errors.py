"""Errors a step reports as one line: what is wrong and what to do about it."""


class StepError(Exception):
    """A runtime failure the user can act on (exit code 1)."""


class UsageError(StepError):
    """Bad input on the command line (exit code 2, like argparse's own errors)."""
