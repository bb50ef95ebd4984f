"""SIGINT and SIGTERM at any point of a step's commit leave no named object of the interrupted
commit and no memory that cleanup cannot free; the step prints one line. A step that fails
publishes nothing."""

import signal
import threading

import pytest
from shmpipe_core.signals import Interrupted, interruptible, signals_deferred

from tests.support.processes import run_cli, stopped_at
from tests.support.splits import read
from tests.support.vineyard import memory_usage, names


def interrupt_at(point: str, signum: int, *args):
    """Run a step to the fault point `point`, send it `signum`, let it go on; its result."""
    process = stopped_at(point, *args)
    process.send_signal(signum)
    process.send_signal(signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    return process.returncode, [line for line in err.splitlines() if "fault point" not in line]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.parametrize(
    "sink, point", [("vineyard", "vineyard-commit"), ("vineyard", "vineyard-names"),
                    ("nas", "nas-commit")],
)  # fmt: skip
def test_an_interrupted_commit_leaves_nothing(sink, point, signum, data_dir, vineyardd):
    socket, _ = vineyardd(size="64Mi")
    common = ["--data-dir", data_dir, "--vineyard-socket", socket, "--run-id", "sig"]
    step = ["preprocess", "--sink", sink, *common]
    run_cli(*step)
    before = read(sink, data_dir, socket, "sig")
    named, used = names(socket), memory_usage(socket)
    files = sorted((data_dir / "runs" / "sig" / "splits").iterdir()) if sink == "nas" else None
    code, lines = interrupt_at(point, signum, *step)
    assert code == 128 + signum
    assert len(lines) == 1 and "interrupted" in lines[0], lines
    # The previous commit stands, whole; nothing of the interrupted one is named or held.
    assert read(sink, data_dir, socket, "sig") == before
    assert names(socket) == named
    assert memory_usage(socket) == used
    if sink == "nas":
        assert sorted((data_dir / "runs" / "sig" / "splits").iterdir()) == files
    # cleanup frees all the run had: vineyardd's memory back to empty.
    run_cli("cleanup", *common)
    assert memory_usage(socket) == 0


def test_a_failed_preprocess_publishes_nothing(data_dir, vineyardd):
    socket, _ = vineyardd(size="64Mi")
    (data_dir / "runs").write_text("")  # the data dir cannot take the step's records
    common = ["--data-dir", data_dir, "--vineyard-socket", socket, "--run-id", "ro"]
    result = run_cli("preprocess", "--sink", "vineyard", *common, check=False)
    assert result.returncode == 1
    assert names(socket) == {}
    assert memory_usage(socket) == 0


def test_a_signal_another_thread_takes_waits_for_the_deferred_block():
    """The deferral's mask holds a signal for the main thread only; one the kernel gives another
    thread (a step has vineyard's and arrow's) still waits until the block is done."""
    go = threading.Event()

    def other():
        go.wait()
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    thread = threading.Thread(target=other)  # started before the mask: it takes the signal
    thread.start()
    ran = []
    with pytest.raises(Interrupted), interruptible(), signals_deferred():
        go.set()
        thread.join()
        for step in range(1000):  # Python runs a pending handler at calls like these
            ran.append(abs(step))
    assert len(ran) == 1000
