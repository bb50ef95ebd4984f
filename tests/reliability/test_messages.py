"""Each message says what is wrong, about the right thing, and what to do, in one line: sizes
past the machine's memory, socket paths too long for a unix socket, runtime-dir and data-dir
problems, inodes, stdout that is full or closed; and with its pid file gone the embedded
vineyardd is still found, by its socket."""

import json
import os
import subprocess

from tests.support.mounts import in_small_mount
from tests.support.processes import BIN, assert_one_line_error, run_cli


def not_running(env) -> bool:
    return json.loads(run_cli("vineyard-local", "status", env=env).stdout)["running"] is False


def test_sizes_past_the_machines_memory_are_refused(isolated_env):
    for size in ("100E", "9" * 20):
        result = run_cli("vineyard-local", "start", "--size", size, env=isolated_env, check=False)
        assert_one_line_error(result, 2, "--size", "more than this machine's", "of memory")
    env = {**isolated_env, "SHMPIPE_VINEYARD_SIZE": "100E"}
    result = run_cli("vineyard-local", "start", env=env, check=False)
    assert_one_line_error(result, 1, "SHMPIPE_VINEYARD_SIZE", "more than this machine's")
    assert not_running(isolated_env)


def test_a_socket_path_too_long_says_so(isolated_env, short_tmp):
    env = {**isolated_env, "SHMPIPE_VINEYARD_DIR": str(short_tmp / ("d" * 100))}
    result = run_cli("vineyard-local", "start", env=env, check=False)
    assert_one_line_error(result, 1, "more than the 107", "SHMPIPE_VINEYARD_DIR", "shorter")


def test_a_runtime_dir_problem_names_the_runtime_dir_setting(isolated_env, data_dir):
    env = {**isolated_env, "SHMPIPE_VINEYARD_DIR": "/dev/null/vineyard"}
    for command in (["vineyard-local", "start"],
                    ["preprocess", "--sink", "vineyard", "--data-dir", data_dir]):  # fmt: skip
        result = run_cli(*command, env=env, check=False)
        assert_one_line_error(result, 1, "/dev/null/vineyard", "SHMPIPE_VINEYARD_DIR")
        assert "--data-dir" not in result.stderr


def test_a_data_dir_that_is_not_a_directory_says_so():
    for step in ("train", "evaluate"):
        result = run_cli(step, "--source", "nas", "--data-dir", "/dev/null", check=False)
        assert_one_line_error(result, 2, "--data-dir /dev/null is not a directory")
        assert "preprocess" not in result.stderr


def test_out_of_inodes_says_inodes(data_dir):
    step = f"{BIN / 'preprocess'} --sink nas --data-dir {data_dir} --run-id i"
    result = in_small_mount(data_dir, step, options="size=20m,nr_inodes=4")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "no free inodes left on" in line and "delete files there" in line, line


def test_runs_with_stdout_full_or_closed_says_so(data_dir):
    run_cli("preprocess", "--sink", "nas", "--data-dir", data_dir, "--run-id", "out")
    with open("/dev/full", "w") as full:
        result = subprocess.run([BIN / "runs", "--data-dir", data_dir], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)  # fmt: skip
    assert_one_line_error(result, 1, "cannot write the output to stdout")
    assert "no space left on" not in result.stderr
    result = subprocess.run(["sh", "-c", f"{BIN / 'runs'} --data-dir {data_dir} >&-"],
                            stderr=subprocess.PIPE, text=True, timeout=120)  # fmt: skip
    assert_one_line_error(result, 1, "stdout is closed")


def test_without_its_pid_file_the_embedded_vineyardd_is_found_by_its_socket(isolated_env):
    run_cli("vineyard-local", "start", env=isolated_env)
    os.unlink(os.path.join(isolated_env["SHMPIPE_VINEYARD_DIR"], "vineyardd.pid"))
    try:
        state = json.loads(run_cli("vineyard-local", "status", env=isolated_env).stdout)
        assert state["running"] and state["pid"], state
        again = run_cli("vineyard-local", "start", "--size", "2Gi", env=isolated_env, check=False)
        assert_one_line_error(again, 1, "already runs", "vineyard-local stop")
    finally:
        out = run_cli("vineyard-local", "stop", env=isolated_env).stdout
    assert out.strip() == "stopped"
    assert not_running(isolated_env)
