"""A vineyardd that accepts connections but never answers (stopped with SIGSTOP) is reported in one
line, never waited for: every command that connects ends, and SIGINT still ends it meanwhile."""

import json
import os
import signal
import threading
import time

import pytest
from shmpipe_core.vineyard import daemon

from tests.support.processes import assert_one_line_error, run_cli, start_step

# Only to detect a hang: the commands give up after 10 s.
HANG = 120


@pytest.fixture
def stopped(data_dir, vineyardd):
    socket, process = vineyardd()
    run_cli("preprocess", "--sink", "vineyard", "--run-id", "h", "--data-dir", data_dir,
            "--vineyard-socket", socket)  # fmt: skip
    process.send_signal(signal.SIGSTOP)
    yield socket
    process.send_signal(signal.SIGCONT)


def test_commands_report_a_stopped_vineyardd(stopped, data_dir):
    common = ["--data-dir", data_dir, "--vineyard-socket", stopped]
    for args in (
        ["runs", *common],
        ["cleanup", "--all", *common],
        ["train", "--source", "vineyard", "--run-id", "h", *common],
    ):
        result = run_cli(*args, check=False, timeout=HANG)
        assert_one_line_error(result, 1, "accepts connections but did not answer", stopped)
    # The pipeline reports its steps as they go; its error is the last line.
    result = run_cli("pipeline", "--sink", "vineyard", "--run-id", "p", *common, check=False,
                     timeout=HANG)  # fmt: skip
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert last.startswith("pipeline: error:") and "accepts connections but did not" in last


def test_sigint_ends_a_command_waiting_for_a_stopped_vineyardd(stopped, data_dir):
    step = start_step("train", "--source", "vineyard", "--run-id", "h", "--data-dir", data_dir,
                      "--vineyard-socket", stopped)  # fmt: skip
    time.sleep(4)  # not an assertion: most likely in the wait by now, and either way it must end
    step.send_signal(signal.SIGINT)
    _, err = step.communicate(timeout=HANG)
    assert step.returncode == 130 and err.strip().splitlines() == ["train: interrupted by SIGINT"]


def test_vineyard_local_status_of_a_stopped_embedded_vineyardd(isolated_env):
    run_cli("vineyard-local", "start", env=isolated_env)
    pid = json.loads(run_cli("vineyard-local", "status", env=isolated_env).stdout)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        result = run_cli("vineyard-local", "status", env=isolated_env, check=False, timeout=HANG)
        assert_one_line_error(result, 1, "accepts connections but did not answer")
    finally:
        os.kill(pid, signal.SIGCONT)
        run_cli("vineyard-local", "stop", env=isolated_env)


def test_starting_waits_for_a_vineyardd_that_listens_before_it_answers(vineyardd):
    """Fluid's vineyardd (--reserve_memory) listens, then faults its arena in before it answers:
    one silent for longer than a hang's 10 s is still starting, and is waited for."""
    socket, process = vineyardd()
    process.send_signal(signal.SIGSTOP)
    resumed = time.monotonic() + 12
    threading.Timer(12, process.send_signal, (signal.SIGCONT,)).start()
    daemon.wait_answering(socket, process, "vineyardd.log", timeout_s=HANG)
    assert time.monotonic() >= resumed
