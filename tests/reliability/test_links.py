"""Nothing outside the data dir is written or deleted: a symbolic link where a run directory is
expected is refused in one line, and so is a manifest whose file names leave the splits dir."""

import json
import shutil

import pytest

from tests.support.processes import assert_one_line_error, run_cli


@pytest.fixture
def outside(tmp_path):
    """A directory outside the data dir, holding a file nobody may touch."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "precious").write_text("keep me")
    return directory


def untouched(directory):
    assert sorted(p.name for p in directory.iterdir()) == ["precious"]
    assert (directory / "precious").read_text() == "keep me"


@pytest.mark.parametrize("link", ["runs", "runs/linked", "runs/linked/splits"])
def test_a_linked_run_directory_is_refused(link, data_dir, outside):
    target = data_dir / link
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(outside)
    common = ["--data-dir", data_dir, "--run-id", "linked"]
    result = run_cli("preprocess", "--sink", "nas", *common, check=False)
    assert_one_line_error(result, 1, str(target), "symbolic link")
    result = run_cli("cleanup", "--store", "nas", *common, check=False)
    assert_one_line_error(result, 1, str(target), "symbolic link")
    result = run_cli("train", "--source", "nas", *common, check=False)
    assert_one_line_error(result, 1, "symbolic link")
    untouched(outside)


def test_a_linked_steps_directory_is_refused(data_dir, outside):
    """The steps' own records (runs/<id>/steps/<step>.json) are written through no link either."""
    common = ["--data-dir", data_dir, "--run-id", "linked"]
    steps = data_dir / "runs" / "linked" / "steps"
    steps.parent.mkdir(parents=True)
    steps.symlink_to(outside)
    result = run_cli("preprocess", "--sink", "nas", *common, check=False)
    assert_one_line_error(result, 1, str(steps), "symbolic link")
    untouched(outside)
    steps.unlink()
    run_cli("preprocess", "--sink", "nas", *common)
    run_cli("train", "--source", "nas", *common)
    shutil.rmtree(steps)
    steps.symlink_to(outside)
    for step in ("train", "evaluate"):
        result = run_cli(step, "--source", "nas", *common, check=False)
        assert_one_line_error(result, 1, "symbolic link")
    untouched(outside)


def test_a_manifest_file_name_leaving_the_splits_dir_is_corrupt(data_dir, outside):
    common = ["--data-dir", data_dir, "--run-id", "esc"]
    run_cli("preprocess", "--sink", "nas", *common)
    manifest_path = data_dir / "runs" / "esc" / "splits" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    # A valid tensor file outside, reached by a relative name: it must not be read.
    escaped = outside / "X_train.arrow"
    (manifest_path.parent / manifest["files"]["X_train"]).rename(escaped)
    manifest["files"]["X_train"] = "../../../../" + str(escaped).lstrip("/")
    manifest_path.write_text(json.dumps(manifest))
    result = run_cli("train", "--source", "nas", *common, check=False)
    assert_one_line_error(result, 1, "corrupt", "not a plain file name", "rerun preprocess")
