"""Ctrl-C while a command's modules still import (seconds, for numpy, pyarrow, scikit-learn and
vineyard) is one line and exit 130, never a traceback, for every console script."""

import signal
import textwrap
import time

import psutil
import pytest

from tests.support.processes import start_step

# Loaded at start-up from PYTHONPATH: an import hook that stops the process (SIGSTOP) when the
# command, after its entry module handed over to `launch`, imports the module STOP_AT_IMPORT, so
# the test's SIGINT lands in the middle of the command's imports every time, not by timing.
SITECUSTOMIZE = textwrap.dedent("""
    import os, signal, sys

    class StopAtImport:
        def find_spec(self, name, path=None, target=None):
            launch = sys.modules.get("shmpipe_core.launch")
            if hasattr(launch, "launch") and name == os.environ["STOP_AT_IMPORT"]:
                sys.meta_path.remove(self)
                print(f"stopped importing {name}", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGSTOP)
            return None

    sys.meta_path.insert(0, StopAtImport())
""")

COMMANDS = ["prepare-data", "preprocess", "train", "evaluate", "cleanup", "runs",
            "vineyard-local", "pipeline", "pipeline-bench"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_ctrl_c_while_importing_is_one_line(command, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {"PYTHONPATH": str(tmp_path), "STOP_AT_IMPORT": "numpy"}
    process = start_step(command, "--help", env=env)
    deadline = time.monotonic() + 60
    while psutil.Process(process.pid).status() != psutil.STATUS_STOPPED:
        assert process.poll() is None, f"{command} never stopped: {process.communicate()}"
        assert time.monotonic() < deadline, f"{command} never reached an import"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGCONT)
    out, err = process.communicate(timeout=60)
    lines = [line for line in err.splitlines() if not line.startswith("stopped importing")]
    assert "Traceback" not in err, err
    assert lines == [f"{command}: interrupted"], err
    assert process.returncode == 130 and out == ""
