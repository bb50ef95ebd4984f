"""The local runner as a user meets it: lines on stderr while steps run, signals reach the running
step, the split is deleted at the end (unless --keep), the embedded vineyardd is mentioned."""

import json
import queue
import signal
import threading
import time

import psutil
import pytest

from tests.support.processes import assert_one_line_error, run_cli, start_step
from tests.support.vineyard import names


def _lines(process) -> queue.Queue:
    """The process's stderr, line by line, as it comes (a thread reads it)."""
    lines = queue.Queue()

    def read():
        for line in process.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue, text: str, seen: list[str]) -> None:
    # A bound against hanging forever on a runner that holds its output back, not a timing check.
    while True:
        line = lines.get(timeout=120)
        assert line is not None, f"stderr ended before {text!r}: {seen}"
        seen.append(line)
        if text in line:
            return


def _stopped_step(pipeline) -> psutil.Process:
    """The step the pipeline runs, once it has stopped itself at its fault point."""
    deadline = time.monotonic() + 120
    while True:
        assert pipeline.poll() is None, pipeline.communicate()
        for child in psutil.Process(pipeline.pid).children():
            if child.status() == psutil.STATUS_STOPPED:
                return child
        assert time.monotonic() < deadline, "no step reached its fault point"
        time.sleep(0.02)


def _nas_pipeline(data_dir, run_id, *extra, env=None):
    return start_step(
        "pipeline", "--sink", "nas", "--data-dir", data_dir, "--run-id", run_id, *extra, env=env
    )


def test_step_lines_stream_while_a_step_runs(data_dir, vineyard_socket):
    # preprocess stops itself in the middle of its commit: its "started" line must be out by then.
    pipeline = start_step(
        "pipeline",
        *("--sink", "vineyard", "--vineyard-socket", vineyard_socket),
        *("--data-dir", data_dir, "--run-id", "stream"),
        env={"SHMPIPE_FAULT_STOP": "vineyard-commit"},
    )
    step = None
    try:
        lines, seen = _lines(pipeline), []
        _wait_for_line(lines, "pipeline: preprocess started", seen)
        step = _stopped_step(pipeline)
        assert step.status() == psutil.STATUS_STOPPED  # the line came while it ran
        step.resume()
        _wait_for_line(lines, "pipeline: preprocess done in", seen)
        _wait_for_line(lines, "pipeline: train started", seen)
        _wait_for_line(lines, "pipeline: evaluate done in", seen)
        pipeline.wait(timeout=300)
        assert pipeline.returncode == 0, seen
    finally:
        if pipeline.poll() is None:
            pipeline.kill()
        if step is not None and step.is_running():
            step.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_reaches_the_running_step_and_is_waited_for(data_dir, signum):
    pipeline = _nas_pipeline(data_dir, "sig", env={"SHMPIPE_FAULT_STOP": "nas-commit"})
    step = None
    try:
        step = _stopped_step(pipeline)
        pipeline.send_signal(signum)
        _, err = pipeline.communicate(timeout=120)
        assert pipeline.returncode == 128 + signum, err
        # The pipeline waited for its step: nothing is left running to write artifacts later.
        assert not psutil.pid_exists(step.pid) or step.status() == psutil.STATUS_ZOMBIE
        lines = err.strip().splitlines()
        assert f"interrupted by {signal.Signals(signum).name}" in lines[-1]
        assert "Traceback" not in err
        run = data_dir / "runs" / "sig"
        assert not (run / "model.json").exists()
        assert not (run / "splits" / "manifest.json").exists()
    finally:
        if pipeline.poll() is None:
            pipeline.kill()
        if step is not None and psutil.pid_exists(step.pid):
            step.kill()


def test_a_signal_reaches_every_partition_s_process(data_dir):
    """Partitioned, a step runs as several processes at once: each gets the signal, and each
    is waited for."""
    stop = {"SHMPIPE_FAULT_STOP": "nas-commit"}
    pipeline = _nas_pipeline(data_dir, "sig2", "--partitions", "2", env=stop)
    steps = []
    try:
        deadline = time.monotonic() + 120
        while len(steps) < 2:
            assert pipeline.poll() is None, pipeline.communicate()
            children = psutil.Process(pipeline.pid).children()
            steps = [c for c in children if c.status() == psutil.STATUS_STOPPED]
            assert time.monotonic() < deadline, "the partitions never reached their fault point"
            time.sleep(0.02)
        pipeline.send_signal(signal.SIGTERM)
        _, err = pipeline.communicate(timeout=120)
        assert pipeline.returncode == 143, err
        for step in steps:
            assert not psutil.pid_exists(step.pid) or step.status() == psutil.STATUS_ZOMBIE
        run = data_dir / "runs" / "sig2"
        assert not list(run.glob("part-*/splits/manifest.json"))
        assert "Traceback" not in err
    finally:
        if pipeline.poll() is None:
            pipeline.kill()
        for step in steps:
            if psutil.pid_exists(step.pid):
                step.kill()


def test_the_split_is_deleted_at_the_end_unless_keep(data_dir, vineyard_socket):
    common = ["--data-dir", data_dir, "--vineyard-socket", vineyard_socket, "--quiet"]
    for sink in ("nas", "vineyard"):
        run_cli("pipeline", "--sink", sink, "--run-id", f"gone-{sink}", *common)
        run = data_dir / "runs" / f"gone-{sink}"
        assert (run / "model.json").is_file() and (run / "metrics.json").is_file()
        assert not (run / "splits" / "manifest.json").exists()
        assert names(vineyard_socket, f"gone-{sink}/*") == {}
    run_cli("pipeline", "--store", "vineyard", "--run-id", "kept", "--keep", *common)
    assert "kept/splits" in names(vineyard_socket, "kept/*")
    run_cli("pipeline", "--store", "nas", "--run-id", "kept-nas", "--keep", *common)
    split_bytes = sum(p.stat().st_size for p in (data_dir / "runs/kept-nas/splits").iterdir())

    listed = run_cli("runs", "--json", *common[:-1]).stdout.splitlines()
    runs = {r["run_id"]: r for r in map(json.loads, listed)}
    assert runs["kept"]["stores"] == ["vineyard"] and runs["kept"]["bytes"] > 0
    assert runs["kept-nas"]["stores"] == ["nas"] and runs["kept-nas"]["bytes"] == split_bytes
    assert runs["kept"]["model"] and runs["kept"]["metrics"]
    assert runs["gone-nas"]["stores"] == [] and runs["gone-nas"]["model"]

    # Not old enough: kept. Then everything.
    run_cli("cleanup", "--all", "--older-than", "1h", *common[:-1])
    assert "kept/splits" in names(vineyard_socket, "kept/*")
    run_cli("cleanup", "--all", *common[:-1])
    assert names(vineyard_socket, "kept/*") == {}


def test_a_local_run_reports_setup_and_the_embedded_vineyardd(tmp_path, isolated_env):
    try:
        out = run_cli("pipeline", "--sink", "vineyard", "--data-dir", tmp_path, env=isolated_env)
        steps = [line.split()[0] for line in out.stdout.splitlines()[1:6]]
        assert steps == ["prepare-data", "vineyardd", "preprocess", "train", "evaluate"]
        last = out.stderr.strip().splitlines()[-1]
        assert "embedded vineyardd is still running" in last and "vineyard-local stop" in last
        run_id = out.stdout.split("run_id=")[1].split()[0]
        assert (tmp_path / "runs" / run_id / "model.json").is_file()
    finally:
        run_cli("vineyard-local", "stop", env=isolated_env)


def test_a_failed_run_starts_no_vineyardd_to_clean_up(tmp_path, isolated_env):
    """prepare-data fails (the data dir lies under a regular file): no step made a split, so the
    cleanup has nothing to do, and it starts no embedded vineyardd to find that out."""
    (tmp_path / "file").write_text("")
    data_dir = tmp_path / "file" / "data"
    try:
        result = run_cli("pipeline", "--sink", "vineyard", "--data-dir", data_dir, "--quiet",
                         env=isolated_env, check=False)  # fmt: skip
        assert_one_line_error(result, 1, "prepare-data", "Not a directory")
        state = json.loads(run_cli("vineyard-local", "status", env=isolated_env).stdout)
        assert state["running"] is False
    finally:
        run_cli("vineyard-local", "stop", env=isolated_env)


def test_a_failed_step_is_reported_failed_and_the_error_is_the_one_line(data_dir):
    """A step that exits non-zero is "failed", not "done"; the cleanup after it adds no advice
    of its own (nothing answers on the socket, so there is nothing there to clean)."""
    result = run_cli("pipeline", "--sink", "vineyard", "--data-dir", data_dir, "--run-id", "f",
                     "--vineyard-socket", "/nonexistent", check=False)  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert "pipeline: preprocess started" in lines
    assert any(line.startswith("pipeline: preprocess failed in ") for line in lines), lines
    assert not any("preprocess done" in line for line in lines), lines
    errors = [line for line in lines if "error:" in line or "cleanup" in line]
    assert len(errors) == 1 and "no vineyard server answers on /nonexistent" in errors[0], lines


def test_a_second_pipeline_with_the_same_run_id_is_refused(data_dir):
    """While one pipeline runs, another with its --run-id is refused in one line and touches
    nothing: its cleanup would otherwise delete the first one's split under it."""
    first = _nas_pipeline(
        data_dir, "twice", "--quiet", env={"SHMPIPE_FAULT_STOP": "train-after-load"}
    )
    step = None
    try:
        step = _stopped_step(first)  # train, stopped: the split is there and in use
        manifest = data_dir / "runs" / "twice" / "splits" / "manifest.json"
        before = manifest.read_bytes()
        second = run_cli("pipeline", "--sink", "nas", "--data-dir", data_dir, "--run-id", "twice",
                         "--quiet", check=False)  # fmt: skip
        assert_one_line_error(second, 1, "run id twice is in use by another pipeline",
                              "pick another --run-id")  # fmt: skip
        assert manifest.read_bytes() == before
        step.resume()
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
        if step is not None and step.is_running():
            step.kill()
