"""`runs` and `cleanup` touch only what the project made: run ids read back from vineyard names
and folder names are checked as run ids, names are matched exactly, a run whose pipeline runs
is skipped, and nothing is deleted until everything is decided."""

import json
import os
import signal
import subprocess
import time

import numpy as np
import psutil

from tests.support.processes import assert_one_line_error, run_cli, start_step
from tests.support.vineyard import names


def put(socket: str, *object_names: str) -> None:
    """Name a small object under each name, as a stock vineyard client would."""
    import vineyard  # the full package (seconds to import): a client that is not ours

    client = vineyard.connect(socket)
    try:
        object_id = client.put(np.arange(4.0), persist=True)
        for name in object_names:
            client.put_name(object_id, name)
    finally:
        client.close()


def split_files(data_dir, run_id):
    return sorted(p.name for p in (data_dir / "runs" / run_id / "splits").iterdir())


def test_cleanup_all_leaves_other_apps_and_odd_names_alone(data_dir, vineyardd):
    socket, _ = vineyardd()
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    run_cli("preprocess", "--sink", "vineyard", "--run-id", "mine", *common)
    run_cli("preprocess", "--sink", "nas", "--run-id", "splits", *common)
    # A folder no run owns, and the files of a run named `splits`, which `..`/`.` would reach.
    (data_dir / "splits").mkdir()
    (data_dir / "splits" / "keep").write_text("not a run's")
    (data_dir / "runs" / "splits" / "model.json").write_text("{}")
    foreign = ["otherapp/weights", "../x", "./foo", "/X_train", "*/splits", "mine/weights"]
    put(socket, *foreign)
    listed = [json.loads(line)["run_id"] for line in
              run_cli("runs", "--json", *common).stdout.splitlines()]  # fmt: skip
    assert listed == ["mine", "splits"]
    run_cli("cleanup", "--all", "--store", "nas", *common)
    assert (data_dir / "splits" / "keep").exists()
    run_cli("preprocess", "--sink", "nas", "--run-id", "splits", *common)
    out = json.loads(run_cli("cleanup", "--all", *common).stdout)
    assert sorted(out["deleted"]) == ["mine", "splits"]
    left = names(socket)
    assert sorted(left) == sorted(foreign), left
    assert (data_dir / "splits" / "keep").exists()
    assert (data_dir / "runs" / "splits" / "model.json").exists()


def test_a_folder_named_star_does_not_widen_a_vineyard_delete(data_dir, vineyardd):
    socket, _ = vineyardd()
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    run_cli("preprocess", "--sink", "vineyard", "--run-id", "fresh", *common)
    star = data_dir / "runs" / "*"
    (star / "splits").mkdir(parents=True)
    (star / "splits" / "manifest.json").write_text("{}")
    os.utime(star, (0, 0))
    os.utime(star / "splits", (0, 0))
    os.utime(star / "splits" / "manifest.json", (0, 0))
    before = names(socket)
    result = run_cli("cleanup", "--all", "--older-than", "1h", *common)
    assert json.loads(result.stdout)["deleted"] == {}
    assert names(socket) == before
    assert "not a run id" in result.stderr
    assert (star / "splits" / "manifest.json").exists()


def test_cleanup_skips_a_run_whose_pipeline_is_running(data_dir, vineyardd):
    socket, _ = vineyardd()
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    run_cli("preprocess", "--sink", "nas", "--run-id", "done", *common)
    # A pipeline whose train stopped itself after loading: the split is there, the run held.
    pipeline = start_step("pipeline", "--sink", "nas", "--run-id", "live", *common,
                          env={"SHMPIPE_FAULT_STOP": "train-after-load"})  # fmt: skip
    deadline = time.monotonic() + 120
    while not (train := [c for c in psutil.Process(pipeline.pid).children()
                         if c.status() == psutil.STATUS_STOPPED]):  # fmt: skip
        assert pipeline.poll() is None and time.monotonic() < deadline, "train never stopped"
        time.sleep(0.05)
    try:
        result = run_cli("cleanup", "--all", *common)
        out = json.loads(result.stdout)
        assert list(out["deleted"]) == ["done"] and list(out["skipped"]) == ["live"]
        assert "skipped run live" in result.stderr
        assert "manifest.json" in split_files(data_dir, "live")
        one = run_cli("cleanup", "--run-id", "live", *common, check=False)
        assert_one_line_error(one, 1, "run live was not cleaned", "pipeline is running")
        assert "manifest.json" in split_files(data_dir, "live")
    finally:
        for process in (*train, pipeline):
            process.send_signal(signal.SIGKILL)
        pipeline.wait(timeout=60)


def test_cleanup_against_a_dead_vineyard_deletes_nothing(data_dir, vineyardd, short_tmp):
    socket, process = vineyardd()
    common = ["--data-dir", data_dir, "--vineyard-socket", socket]
    for run_id in ("a", "b"):
        run_cli("preprocess", "--sink", "nas", "--run-id", run_id, *common)
    process.terminate()
    process.wait(timeout=30)
    for args in (["--all"], ["--run-id", "a"]):
        result = run_cli("cleanup", *args, *common, check=False)
        assert_one_line_error(result, 1, "no vineyard server answers")
        for run_id in ("a", "b"):
            assert "manifest.json" in split_files(data_dir, run_id)


def test_cleanup_and_reads_never_start_an_embedded_vineyardd(data_dir, isolated_env):
    common = ["--data-dir", data_dir, "--run-id", "nothing"]
    sock = os.path.join(isolated_env["SHMPIPE_VINEYARD_DIR"], "vineyard.sock")
    out = run_cli("cleanup", "--store", "vineyard", *common, env=isolated_env)
    assert json.loads(out.stdout)["deleted"] == {"vineyard": []}
    assert "none to clean" in out.stderr
    for step in ("train", "evaluate"):
        result = run_cli(step, "--source", "vineyard", *common, env=isolated_env, check=False)
        assert_one_line_error(result, 1, "embedded vineyardd is not running", "preprocess")
    assert not os.path.exists(sock)
    status = run_cli("vineyard-local", "status", env=isolated_env)
    assert json.loads(status.stdout)["running"] is False


def test_runs_skips_a_folder_it_cannot_read_and_prints_names_escaped(data_dir):
    run_cli("preprocess", "--sink", "nas", "--run-id", "readable", "--data-dir", data_dir)
    runs = data_dir / "runs"
    (runs / "theirs").mkdir()
    (runs / "theirs" / "splits").mkdir()
    os.chown(runs / "theirs", 65534, 65534)
    os.chmod(runs / "theirs", 0o700)
    (runs / "\x1b[2Jclear").mkdir()
    (runs / "x\nforged-run  nas,vineyard 1 GiB").mkdir()
    data_dir.chmod(0o755)
    runs.chmod(0o755)
    # As a user who is not the folder's owner: root in a user namespace cannot read it.
    for args in (["runs"], ["cleanup", "--all", "--store", "nas"]):
        command = [str(run_cli.__globals__["BIN"] / args[0]), *args[1:], "--data-dir",
                   str(data_dir)]  # fmt: skip
        if os.getuid() == 0:
            command = ["unshare", "-r", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout + result.stderr
        assert "forged" not in result.stdout
        assert f"skipped {runs / 'theirs'}: Permission denied" in result.stderr
        assert "'\\x1b[2Jclear'" in result.stderr and "not a run id" in result.stderr
        if args[0] == "runs":
            rows = result.stdout.strip().splitlines()
            assert len(rows) == 2 and rows[1].startswith("readable "), rows
        else:
            assert list(json.loads(result.stdout)["deleted"]) == ["readable"]
