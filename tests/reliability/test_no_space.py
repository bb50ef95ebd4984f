"""A NAS commit that runs out of space leaves nothing behind and says so in one line; a rerun
with room succeeds. train and evaluate on a full disk publish nothing and say so in one line."""

import re

from tests.support.mounts import in_small_mount
from tests.support.processes import BIN, run_cli


def test_no_space_in_the_middle_of_a_nas_commit(data_dir):
    splits = data_dir / "runs" / "full" / "splits"
    step = f"{BIN / 'preprocess'} --sink nas --data-dir {data_dir} --run-id full"
    # Twice: a rerun must fail the same clear way, not on what the first one stranded.
    result = in_small_mount(data_dir, f"{step}; {step}; echo rc=$?; ls -A {splits}")
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 2 and "Traceback" not in result.stderr, result.stderr
    for line in errors:
        assert "no space left on" in line and re.search(r"free [\d.]+ [KM]iB", line), line
    assert "rc=1" in result.stdout
    assert result.stdout.split("rc=1")[1].split() == [], "the failed commits left files"


def test_prepare_data_without_room_says_the_sizes_in_mib(data_dir):
    """Sizes below 1 GiB print in MiB (or KiB): "0.0 GiB free, needs 0.0 GiB" tells nothing."""
    target = data_dir / "runs" / "raw"
    result = in_small_mount(data_dir, f"{BIN / 'prepare-data'} --multiplier 10 --data-dir {target}")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert re.search(r"has [\d.]+ [KM]iB free, the table needs [\d.]+ MiB", lines[0]), lines[0]


def test_train_and_evaluate_on_a_full_disk_publish_nothing(data_dir):
    """The split is readable; the volume their records and outputs go to is full (a filled tmpfs
    on runs/<id>/steps): the step fails in one line naming that mount, and no model.json, no
    metrics.json or mse appears, as though it had not run."""
    common = ["--data-dir", data_dir, "--run-id", "full"]
    run_cli("preprocess", "--sink", "nas", *common)
    run = data_dir / "runs" / "full"
    steps = run / "steps"
    fill = f"dd if=/dev/zero of={steps}/fill bs=64k 2>/dev/null"
    for step, outputs in (("train", ["model.json"]), ("evaluate", ["metrics.json", "mse"])):
        command = f"{BIN / step} --source nas {' '.join(map(str, common))}"
        result = in_small_mount(data_dir, f"{fill}; {command}; echo rc=$?", where=steps)
        lines = result.stderr.strip().splitlines()
        assert "rc=1" in result.stdout and len(lines) == 1, result.stderr
        assert f"{step}: error: no space left on {steps}" in lines[0], lines[0]
        assert f"then rerun {step}" in lines[0], lines[0]
        for name in outputs:
            assert not (run / name).exists(), f"{step} published {name} and failed"
        if step == "train":
            run_cli("train", "--source", "nas", *common)  # with room: evaluate's turn
