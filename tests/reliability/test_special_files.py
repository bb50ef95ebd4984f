"""A step reads the small files other steps wrote into the data dir (the model, the NAS split's
manifest) without trusting what lies there: a FIFO is refused without blocking, a file past the
size cap is refused unread, and a link (to /dev/zero, say) is not followed; each in one line that
names the step to rerun. A FIFO in place of the raw table is refused too."""

import os
import resource
import shutil
import subprocess

import pytest
from shmpipe_core.dataset import raw_path

from tests.support.files import data_dir_with_raw
from tests.support.processes import BIN, assert_one_line_error

# (file under runs/<id>/, the step that reads it, the step that writes it)
FILES = [
    ("model.json", "evaluate", "rerun the train step"),
    ("splits/manifest.json", "train", "rerun preprocess"),
]


@pytest.fixture(scope="module")
def trained(raw_data_dir, tmp_path_factory):
    """A run preprocessed to NAS and trained, copied by each test before it damages it."""
    data_dir = data_dir_with_raw(raw_data_dir, tmp_path_factory.mktemp("trained"))
    common = ["--data-dir", str(data_dir), "--run-id", "s"]
    for step in (["preprocess", "--sink", "nas"], ["train", "--source", "nas"]):
        subprocess.run([str(BIN / step[0]), *step[1:], *common], check=True, timeout=300)
    return data_dir


@pytest.fixture
def run_copy(trained, raw_data_dir, tmp_path):
    data_dir = data_dir_with_raw(raw_data_dir, tmp_path / "data")
    shutil.copytree(trained / "runs", data_dir / "runs", symlinks=True)
    return data_dir


def _limit_memory():  # were /dev/zero read whole, it would fill memory: fail at 4 GiB instead
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run_step(step: str, data_dir, *args: str) -> subprocess.CompletedProcess:
    """The step run to its end; a step still blocked after two generous minutes fails the test."""
    args = args or ("--source", "nas")
    try:
        return subprocess.run(
            [str(BIN / step), *args, "--data-dir", str(data_dir), "--run-id", "s"],
            capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory,
        )  # fmt: skip
    except subprocess.TimeoutExpired:  # subprocess.run has killed the step by now
        pytest.fail(f"{step} hung on a special file in the data dir instead of refusing it")


def _fifo(path):
    os.mkfifo(path)


def _sparse_past_the_cap(path):
    # 4 GiB of holes: costs no disk, and would cost 4 GiB of memory if read whole.
    with open(path, "wb"):
        pass
    os.truncate(path, 4 << 30)


def _link_to_dev_zero(path):
    path.symlink_to("/dev/zero")


@pytest.mark.parametrize(
    "make, words",
    [
        (_fifo, ["not a regular file"]),
        (_sparse_past_the_cap, ["larger than 1.0 MiB"]),
        (_link_to_dev_zero, ["symbolic link"]),
    ],
    ids=["fifo", "huge", "link-to-dev-zero"],
)  # fmt: skip
@pytest.mark.parametrize("name, step, fix", FILES, ids=["model", "manifest"])
def test_a_special_file_where_a_step_reads_is_refused_in_one_line(
    name, step, fix, make, words, run_copy
):
    path = run_copy / "runs" / "s" / name
    path.unlink()
    make(path)
    result = run_step(step, run_copy)
    assert_one_line_error(result, 1, str(path), *words, fix)
    assert not (run_copy / "runs" / "s" / "metrics.json").exists()


@pytest.mark.parametrize("name, step, fix", FILES, ids=["model", "manifest"])
def test_a_file_just_under_the_cap_is_still_read(name, step, fix, run_copy):
    # The cap refuses no legitimate file: the real one, padded with JSON whitespace to 1 MiB.
    path = run_copy / "runs" / "s" / name
    text = path.read_text().rstrip() + "\n"
    path.write_text(text + " " * ((1 << 20) - len(text.encode())))
    result = run_step(step, run_copy)
    assert result.returncode == 0, result.stderr


def test_a_fifo_in_place_of_the_raw_table_is_refused_in_one_line(data_dir):
    path = raw_path(data_dir, 1)
    path.unlink()  # a hard link to the shared table: only this test's name goes
    _fifo(path)
    result = run_step("preprocess", data_dir, "--sink", "nas")
    assert_one_line_error(result, 1, str(path), "not a regular file", "prepare-data")
    assert not (data_dir / "runs" / "s" / "splits" / "manifest.json").exists()


@pytest.mark.parametrize("make", [_fifo, _link_to_dev_zero], ids=["fifo", "link-to-dev-zero"])
@pytest.mark.parametrize("step, name", [("train", "X_train"), ("evaluate", "X_test")])
def test_a_special_file_in_place_of_a_split_array_is_refused_in_one_line(
    step, name, make, run_copy
):
    (path,) = (run_copy / "runs" / "s" / "splits").glob(f"{name}.*.arrow")
    path.unlink()
    make(path)
    result = run_step(step, run_copy)
    assert_one_line_error(result, 1, str(path), "rerun preprocess")
