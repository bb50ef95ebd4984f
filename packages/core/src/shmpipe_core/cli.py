"""What every command shares: common flags, and errors as one line with a clear exit code."""

import argparse
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from . import signals
from .dataset import DATA_DIR_ENV, check_multiplier, check_run_id, default_data_dir
from .errors import StepError, UsageError
from .files import NO_SPACE, no_space
from .step_contract import MERGED, STORE_FLAG, TAKES_MULTIPLIER
from .stores import STORES

BROKEN_PIPE = 128 + 13  # SIGPIPE's number: as a shell reports a process it killed

# One setting, three names: the user's documents say --sink for writers and --source for readers;
# --store is accepted everywhere.
STORE_FLAGS = ("--sink", "--source", "--store")


def versions(prog: str) -> str:
    """The command's package version and the vineyard client's, from installed metadata (no
    import of vineyard, which takes seconds)."""

    def version(distribution: str) -> str:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return "not installed"

    scripts = metadata.entry_points(group="console_scripts", name=prog)
    package = next((ep.dist.name for ep in scripts if ep.dist is not None), "shmpipe-core")
    return f"{prog} ({package} {version(package)}, vineyard client {version('vineyard')})"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the versions and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(versions(parser.prog))
        parser.exit(0)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too, pointing at --help instead of printing usage.
    Every command has --version."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action=_Version)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        self._check_store_flag(sys.argv[1:] if args is None else list(args))
        return super().parse_known_args(args, namespace)

    def _check_store_flag(self, argv: list[str]) -> None:
        """`train --sink vineyard` says which flag train takes instead of "--source is
        required"."""
        known = [f for f in STORE_FLAGS if f in self._option_string_actions]
        for arg in argv:
            if arg == "--":
                return
            flag = str(arg).split("=", 1)[0]
            if flag in STORE_FLAGS and flag not in known and known:
                self.error(f"{self.prog} has no {flag}: use {known[0]} (or --store)")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the shared volume (default: $SHMPIPE_DATA_DIR, else ./data)",
    )


def add_run_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run-id",
        default="default",
        help="names this run's objects and files; in a workflow, the workflow's name "
        "(default: `default`)",
    )


def add_multiplier(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--multiplier", default="1", help="the table has 10,000 x MULTIPLIER rows (default 1)"
    )


def add_store(parser: argparse.ArgumentParser, flag: str, vineyard_socket: bool = True) -> None:
    """The store flag (`flag`, with --store as its other name; `args.store` either way) and,
    unless told not to, --vineyard-socket."""
    flags = dict.fromkeys((flag, "--store"))  # `flag` may be --store itself
    parser.add_argument(
        *flags, dest="store", required=True, choices=STORES, help="where the split lives"
    )
    if not vineyard_socket:
        return
    parser.add_argument(
        "--vineyard-socket",
        default=None,
        help="vineyard IPC socket (default: VINEYARD_IPC_SOCKET, VINEYARD_CONFIG, Fluid's "
        "/var/run/vineyard mount, else an embedded local vineyardd)",
    )


def add_partitions(parser: argparse.ArgumentParser, step: str | None = None) -> None:
    """--partitions (every step and the pipeline); --partition and, for train and evaluate,
    --merge (the steps)."""
    parser.add_argument(
        "--partitions",
        default="1",
        help="the run's rows in this many contiguous partitions, each step one process per "
        "partition (default 1: the whole run in one process)",
    )
    if step is None:
        return
    parser.add_argument(
        "--partition", default="0", help="which partition this process works on, from 0"
    )
    if step in MERGED:
        parser.add_argument(
            "--merge", action="store_true", help="merge the partitions' results (--partitions >1)"
        )


def _count(text: str, flag: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise UsageError(f"{flag} {text!r} is not a whole number of at least {low}")
    return value


def add_debug(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def step_parser(step: str, description: str) -> Parser:
    """A pipeline step's flags, as the step contract gives them."""
    parser = Parser(prog=step, description=description)
    add_store(parser, STORE_FLAG[step])
    add_data_dir(parser)
    add_run_id(parser)
    if step in TAKES_MULTIPLIER:
        add_multiplier(parser)
    add_partitions(parser, step)
    add_debug(parser)
    return parser


def normalize(args: argparse.Namespace) -> argparse.Namespace:
    """Check the values argparse cannot check by type alone."""
    if hasattr(args, "data_dir"):
        source = "--data-dir" if args.data_dir is not None else DATA_DIR_ENV
        args.data_dir = args.data_dir or default_data_dir()
        if args.data_dir.exists() and not args.data_dir.is_dir():
            raise UsageError(
                f"{source} {args.data_dir} is not a directory: give the directory of the shared "
                "volume"
            )
    if getattr(args, "run_id", None) is not None:  # `pipeline` makes one up when none is given
        check_run_id(args.run_id)
    if hasattr(args, "multiplier"):
        args.multiplier = check_multiplier(args.multiplier)
    if hasattr(args, "partitions"):
        args.partitions = _count(args.partitions, "--partitions", 1)
    if hasattr(args, "partition"):
        args.partition = _count(args.partition, "--partition", 0)
        if args.partition >= args.partitions:
            raise UsageError(
                f"--partition {args.partition} is not one of the {args.partitions} partition(s): "
                f"give 0 to {args.partitions - 1}"
            )
    if getattr(args, "merge", False) and args.partitions == 1:
        raise UsageError("--merge merges partitions: give --partitions 2 or more")
    return args


def run(
    parser: argparse.ArgumentParser,
    body: Callable[[argparse.Namespace], int | None],
    argv: list[str] | None = None,
) -> int:
    """Parse, run, and turn failures into `<prog>: error: ...` on one line.

    Exit 2 for usage errors (as argparse does), 1 for runtime errors; `--debug` shows the traceback.
    A reader that stops early (`runs | head -1`) ends the command quietly with 141, the status of a
    process killed by SIGPIPE, which a shell's `pipefail` reports as usual.
    """
    with signals.interruptible():
        args = parser.parse_args(argv)
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            parser.exit(1, f"{parser.prog}: error: stdout is closed: give it a file or a pipe\n")
        real, sys.stdout = sys.stdout, _Output(sys.stdout)
        try:
            return _run(parser, body, args)
        finally:
            sys.stdout = real


class OutputError(StepError):
    """Writing the command's own output failed (a full disk behind `>`): not the data dir's."""


class _Output:
    """stdout, with a failed write or flush raised as OutputError."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _guarded(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as e:
            # The output is lost: stdout to devnull, so the flush at exit does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            raise OutputError(
                f"cannot write the output to stdout ({e.strerror}): send it to a file or pipe "
                "that takes it"
            ) from None

    def write(self, text: str) -> int:
        return self._guarded(self._stream.write, text)

    def flush(self) -> None:
        self._guarded(self._stream.flush)


def _run(parser, body, args) -> int:

    def fail(code: int, error: Exception, prefix: str = "") -> None:
        if args.debug:
            raise error
        one_line = " ".join(str(error).split())
        parser.exit(code, f"{parser.prog}: error: {prefix}{one_line}\n")

    try:
        normalize(args)
        code = body(args) or 0
        sys.stdout.flush()  # here, not at exit: a closed pipe is then caught below
        return code
    except BrokenPipeError:
        # Python's own advice (docs, "Note on SIGPIPE"): stdout to devnull, so the flush at exit
        # does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE
    except UsageError as e:
        fail(2, e)
    except StepError as e:
        fail(1, e)
    except OSError as e:
        if e.errno in NO_SPACE:
            where = e.filename or getattr(args, "data_dir", None) or "."
            fail(1, no_space(Path(where), f"rerun {parser.prog}"))
        if e.filename is None:
            fail(1, e, f"unexpected {type(e).__name__} (rerun with --debug for the traceback): ")
        if not hasattr(args, "data_dir"):
            fail(1, StepError(f"cannot use {e.filename} ({e.strerror})"))
        # A file the step must write or read: almost always a --data-dir that is not writable.
        fail(
            1,
            StepError(
                f"cannot use {e.filename} ({e.strerror}): --data-dir must be a "
                "writable directory of this user's, shared by every step of the run"
            ),
        )
    except KeyboardInterrupt as e:
        # Interrupted: SIGINT or SIGTERM, after the step undid what it had not published.
        code, name = (e.exit_code, str(e)) if isinstance(e, signals.Interrupted) else (130, "")
        parser.exit(code, f"{parser.prog}: interrupted{f' by {name}' if name else ''}\n")
    except Exception as e:  # noqa: BLE001 - the last line of defence for a one-line message
        fail(1, e, f"unexpected {type(e).__name__} (rerun with --debug for the traceback): ")
    return 1
