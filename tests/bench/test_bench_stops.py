"""`pipeline-bench` stopped or failing mid-run: nothing left running, the run's data deleted, one
line said."""

import signal

import psutil

from tests.support.processes import start_step

FAULT = {"SHMPIPE_FAULT_STOP": "train-after-load", "VINEYARD_IPC_SOCKET": ""}


def stopped_step(bench, deadline_s: float = 300) -> psutil.Process:
    """The benchmark's step that stopped itself at the fault point."""
    import time

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert bench.poll() is None, bench.communicate()
        for child in psutil.Process(bench.pid).children(recursive=True):
            try:
                if child.status() == psutil.STATUS_STOPPED:
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    raise AssertionError("no step reached the fault point")


def test_sigterm_during_a_step_stops_the_step_and_deletes_the_run(data_dir, tmp_path):
    out = tmp_path / "out"
    bench = start_step(
        "pipeline-bench",
        *("--multipliers", 1, "--repeats", 1, "--no-warmup", "--no-first-touch"),
        *("--cross-node-mib", 0, "--data-dir", data_dir, "--out", out),
        env=FAULT,
    )
    step = None
    try:
        step = stopped_step(bench)
        bench.send_signal(signal.SIGTERM)
        _, stderr = bench.communicate(timeout=120)
        assert bench.returncode == 143, stderr
        # The step got the signal and was waited for: it is not left behind, stopped or running.
        assert not psutil.pid_exists(step.pid)
        assert "Traceback" not in stderr
        assert stderr.strip().splitlines()[-1].startswith("pipeline-bench: interrupted by SIGTERM")
        assert not any((data_dir / "runs").glob("*"))
        assert not out.exists()
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        if step is not None and psutil.pid_exists(step.pid):
            step.kill()
