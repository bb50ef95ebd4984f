"""The embedded vineyardd: started on demand, reused, private, no TCP port, stopped by command."""

import json
import os
import signal
import stat
from pathlib import Path

import psutil

from tests.support.processes import run_cli, stopped_at


def status(env):
    return json.loads(run_cli("vineyard-local", "status", env=env).stdout)


def test_start_reuse_stop(isolated_env):
    # A directory that does not exist yet: its mode is then the one shmpipe creates it with.
    directory = Path(isolated_env["SHMPIPE_VINEYARD_DIR"]) / "fresh"
    isolated_env = {**isolated_env, "SHMPIPE_VINEYARD_DIR": str(directory)}
    try:
        first = run_cli("vineyard-local", "start", env=isolated_env).stdout.strip()
        pid = status(isolated_env)["pid"]
        second = run_cli("vineyard-local", "start", env=isolated_env).stdout.strip()
        assert first == second == str(directory / "vineyard.sock")
        assert status(isolated_env)["pid"] == pid  # reused, not restarted
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        daemon = psutil.Process(pid)
        assert [c for c in daemon.net_connections(kind="inet")] == []  # RPC off: no TCP port
        assert status(isolated_env)["memory_limit"] == 1 << 30
    finally:
        assert run_cli("vineyard-local", "stop", env=isolated_env).stdout.strip() == "stopped"
    assert status(isolated_env)["running"] is False
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_step_starts_it_when_nothing_is_configured(data_dir, isolated_env):
    try:
        run_cli(
            "preprocess",
            "--sink",
            "vineyard",
            "--data-dir",
            data_dir,
            "--run-id",
            "e",
            env=isolated_env,
        )
        assert status(isolated_env)["memory_usage"] > 0
    finally:
        run_cli("vineyard-local", "stop", env=isolated_env)


def _vineyardd_on(socket: Path) -> list[psutil.Process]:
    """The vineyardd processes serving `socket`, whoever started them."""
    flag = f"--socket={socket}"
    return [
        process
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] == "vineyardd"
        and flag in (process.info["cmdline"] or [])
        and process.status() != psutil.STATUS_ZOMBIE
    ]


def test_a_start_interrupted_leaves_no_daemon_stop_cannot_end(isolated_env):
    """SIGTERM while the daemon starts (it runs in its own session, so the signal does not reach
    it): the start ends the daemon, or `stop` finds it; none is left running either way."""
    socket = Path(isolated_env["SHMPIPE_VINEYARD_DIR"]) / "vineyard.sock"
    starter = stopped_at("vineyardd-starting", "vineyard-local", "start", env=isolated_env)
    try:
        assert len(_vineyardd_on(socket)) == 1  # the daemon exists, the start has not returned
        starter.send_signal(signal.SIGTERM)
        starter.send_signal(signal.SIGCONT)
        starter.communicate(timeout=60)
        assert starter.returncode == 128 + signal.SIGTERM
        run_cli("vineyard-local", "stop", env=isolated_env)
        assert _vineyardd_on(socket) == []
        assert status(isolated_env)["running"] is False
    finally:
        for process in _vineyardd_on(socket):
            process.kill()
