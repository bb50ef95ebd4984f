"""The embedded vineyardd's directory is created by us or already ours, a real directory and
mode 0700, else refused in one line; `vineyard-local stop` signals only our own vineyardd."""

import os
import subprocess
import sys

import pytest

from tests.support.ci import require
from tests.support.processes import assert_one_line_error, run_cli


def embedded_env(isolated_env, directory):
    return {**isolated_env, "SHMPIPE_VINEYARD_DIR": str(directory)}


@pytest.mark.parametrize("kind", ["shared", "link", "other-user"])
def test_an_unsafe_runtime_dir_is_refused_untouched(kind, isolated_env, short_tmp):
    target = short_tmp / f"rt-target-{kind}"
    target.mkdir(mode=0o700)
    path = target
    if kind == "shared":
        target.chmod(0o755)
    elif kind == "link":
        path = short_tmp / f"rt-link-{kind}"
        path.symlink_to(target)
    else:
        require(os.getuid() == 0, "giving a directory to another user needs root")
        os.chown(target, 12345, 12345)
    before = os.stat(target)
    result = run_cli("vineyard-local", "start", env=embedded_env(isolated_env, path), check=False)
    assert_one_line_error(result, 1, str(path), "SHMPIPE_VINEYARD_DIR")
    after = os.stat(target)
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)
    assert os.listdir(target) == []


def test_tmp_taken_by_another_user_falls_back_to_home(isolated_env, short_tmp):
    require(os.getuid() == 0, "creating a directory as another user needs root")
    tmp = short_tmp / "world"
    tmp.mkdir()
    tmp.chmod(0o1777)
    taken = tmp / f"shmpipe-{os.getuid()}"
    taken.mkdir(mode=0o777)
    os.chown(taken, 12345, 12345)
    home = short_tmp / "home"
    home.mkdir()
    env = {k: v for k, v in isolated_env.items() if k not in ("SHMPIPE_VINEYARD_DIR",
                                                              "XDG_RUNTIME_DIR")}  # fmt: skip
    env.update(TMPDIR=str(tmp), HOME=str(home), SHMPIPE_VINEYARD_SIZE="64Mi")
    started = run_cli("vineyard-local", "start", env=env)
    try:
        assert started.stdout.strip().startswith(str(home)), started.stdout
        assert os.listdir(taken) == []
    finally:
        run_cli("vineyard-local", "stop", env=env)


def test_stop_leaves_a_process_that_reused_the_pid_alone(isolated_env):
    directory = isolated_env["SHMPIPE_VINEYARD_DIR"]
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        # vineyardd died; its pid now belongs to another process.
        with open(os.path.join(directory, "vineyardd.pid"), "w") as f:
            f.write(str(stranger.pid))
        result = run_cli("vineyard-local", "stop", env=isolated_env)
        assert result.stdout.strip() == "not running"
        assert stranger.poll() is None, "stop signalled a process that is not our vineyardd"
    finally:
        stranger.kill()
        stranger.wait()
