"""One store flag for every command, hints for the wrong one, --version everywhere, run ids that
do not collide, cleanup that says what it cleans, and vineyard-local's size."""

import re

import pytest
from shmpipe_core.dataset import check_run_id
from shmpipe_core.runs import new_run_id

from tests.support.processes import run_cli

COMMANDS = [
    "prepare-data",
    "preprocess",
    "train",
    "evaluate",
    "pipeline",
    "cleanup",
    "runs",
    "vineyard-local",
    "pipeline-bench",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_version(command):
    out = run_cli(command, "--version")
    assert re.fullmatch(
        rf"{command} \(shmpipe-[a-z]+ \d+\.\d+\.\d+\S*, vineyard client \d+\.\d+\.\d+\S*\)\n",
        out.stdout,
    ), out.stdout


@pytest.mark.parametrize(
    ("command", "wrong", "right"),
    [("train", "--sink", "--source"), ("evaluate", "--sink", "--source"),
     ("preprocess", "--source", "--sink"), ("pipeline", "--source", "--sink")],
)  # fmt: skip
def test_a_wrong_store_flag_names_the_right_one(command, wrong, right, tmp_path):
    out = run_cli(command, wrong, "vineyard", "--data-dir", tmp_path, check=False)
    assert out.returncode == 2
    assert out.stderr == (
        f"{command}: error: {command} has no {wrong}: use {right} (or --store) "
        f"(see {command} --help)\n"
    )


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_store_is_accepted_by_the_steps(command, tmp_path):
    # Parsed as the store: the step gets as far as looking for the split.
    out = run_cli(command, "--store", "nas", "--data-dir", tmp_path, "--run-id", "x", check=False)
    assert out.returncode == 1 and "--help" not in out.stderr, out.stderr  # not a usage error


@pytest.mark.parametrize("command", ["preprocess", "train", "evaluate"])
def test_help_says_the_default_run_id(command):
    assert "(default: `default`)" in " ".join(run_cli(command, "--help").stdout.split())


def test_generated_run_ids_are_valid_and_unique():
    ids = [new_run_id() for _ in range(2000)]  # the same second, mostly
    assert len(set(ids)) == len(ids)
    assert all(check_run_id(i) == i for i in ids)


def test_cleanup_needs_a_run_id_or_all(tmp_path):
    for args in ([], ["--run-id", "a", "--all"], ["--older-than", "1h", "--run-id", "a"]):
        out = run_cli("cleanup", *args, "--data-dir", tmp_path, check=False)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.splitlines()) == 1
    out = run_cli("cleanup", "--all", "--older-than", "soon", "--data-dir", tmp_path, check=False)
    assert out.returncode == 2 and "90m, 12h or 7d" in out.stderr


def test_vineyard_local_refuses_another_size_on_a_running_daemon(isolated_env):
    try:
        run_cli("vineyard-local", "start", "--size", "64Mi", env=isolated_env)
        run_cli("vineyard-local", "start", "--size", "64Mi", env=isolated_env)  # the same: fine
        out = run_cli("vineyard-local", "start", "--size", "128Mi", env=isolated_env, check=False)
        assert out.returncode == 1
        assert "already runs with 64 MiB, not 128 MiB" in out.stderr
        assert "vineyard-local stop" in out.stderr and len(out.stderr.splitlines()) == 1
    finally:
        run_cli("vineyard-local", "stop", env=isolated_env)
