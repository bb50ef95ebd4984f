"""A socket path that exists but answers nothing (a regular file, a directory, a socket nobody
listens on, /dev/null) is one line, not vineyard's retries, for a step and for cleanup."""

import socket

import pytest

from tests.support.processes import assert_one_line_error, run_cli


def dead_socket(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))  # bound, never listening, then closed: the file stays
    sock.close()
    return path


@pytest.mark.parametrize("kind", ["file", "directory", "dead-socket", "dev-null"])
def test_a_path_that_answers_nothing_is_one_line(kind, short_tmp, tmp_path):
    path = short_tmp / f"not-vineyard-{kind}"
    if kind == "file":
        path.write_text("")
    elif kind == "directory":
        path.mkdir()
    elif kind == "dead-socket":
        dead_socket(path)
    else:
        path = "/dev/null"
    data = ["--data-dir", tmp_path, "--run-id", "dead", "--vineyard-socket", path]
    result = run_cli("train", "--source", "vineyard", *data, check=False)
    assert_one_line_error(result, 1, str(path), "no vineyard server answers")
    result = run_cli("cleanup", "--store", "vineyard", *data, check=False)
    assert_one_line_error(result, 1, str(path), "no vineyard server answers")
