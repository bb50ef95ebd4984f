"""Bad flags and missing inputs: one clear line, a non-zero exit, no traceback."""

import subprocess

import pytest

from tests.support.processes import BIN, assert_one_line_error, run_cli


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--sink", "disk"], 2, ["invalid choice"]),
        (["--sink", "nas", "--multiplier", "0"], 2, ["multiplier"]),
        (["--sink", "nas", "--multiplier", "-3"], 2, ["multiplier"]),
        (["--sink", "nas", "--multiplier", "1.5"], 2, ["multiplier"]),
        (["--sink", "nas", "--multiplier", "1000000000"], 2, ["multiplier"]),
        (["--sink", "nas", "--run-id", "../escape"], 2, ["run id"]),
        (["--sink", "nas", "--with_vineyard=False"], 2, ["unrecognized"]),
    ],
)
def test_preprocess_usage_errors(args, code, words, tmp_path):
    result = run_cli("preprocess", *args, "--data-dir", tmp_path, check=False)
    assert_one_line_error(result, code, *words)


def test_missing_raw_data_says_how_to_make_it(tmp_path):
    result = run_cli("preprocess", "--sink", "nas", "--data-dir", tmp_path, check=False)
    assert_one_line_error(result, 1, "prepare-data --multiplier 1")


def test_missing_split(tmp_path, vineyard_socket):
    result = run_cli(
        "train", "--source", "nas", "--data-dir", tmp_path, "--run-id", "none", check=False
    )
    assert_one_line_error(result, 1, "preprocess --sink nas --run-id none")
    result = run_cli(
        "train",
        "--source",
        "vineyard",
        "--data-dir",
        tmp_path,
        "--run-id",
        "none",
        "--vineyard-socket",
        vineyard_socket,
        check=False,
    )
    assert_one_line_error(result, 1, "none/splits", vineyard_socket)


def test_missing_vineyard(tmp_path):
    result = run_cli(
        "train",
        "--source",
        "vineyard",
        "--data-dir",
        tmp_path,
        "--vineyard-socket",
        tmp_path / "nope.sock",
        check=False,
    )
    assert_one_line_error(result, 1, "nope.sock", "--vineyard-socket")


def test_unreadable_vineyard_config(tmp_path):
    config = tmp_path / "vineyard-config.yaml"
    config.write_text("just: [a, list\n")
    result = run_cli(
        "train",
        "--source",
        "vineyard",
        "--data-dir",
        tmp_path,
        env={"VINEYARD_CONFIG": str(config)},
        check=False,
    )
    assert_one_line_error(result, 1, str(config))


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("preprocess", "--sink", "nas", "--data-dir", tmp_path, "--debug", check=False)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """`runs | head -1`: the pipe closes before the listing is written; the command ends with
    141 (as a process killed by SIGPIPE) and says nothing."""
    for i in range(2000):
        (tmp_path / "runs" / f"run-{i:04d}").mkdir(parents=True)
    command = subprocess.Popen(
        [str(BIN / "runs"), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    command.stdout.close()  # the reader is gone before the first line: every write fails
    err = command.stderr.read()
    assert command.wait(timeout=120) == 141, err
    assert err == ""
