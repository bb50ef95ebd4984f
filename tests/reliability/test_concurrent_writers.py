"""Writers and cleanups of one NAS run id, all at once: every reader gets one whole commit or a
clear "run preprocess" error, and no committed manifest ever names a missing file."""

import json

from tests.support.processes import run_cli, start_step


def test_concurrent_writers_and_cleanups_of_one_run_lose_nothing(data_dir):
    common = ["--data-dir", data_dir, "--run-id", "same"]
    splits = data_dir / "runs" / "same" / "splits"
    for _ in range(1):
        writers = [start_step("preprocess", "--sink", "nas", *common) for _ in range(4)]
        cleanups = [start_step("cleanup", "--store", "nas", *common) for _ in range(2)]
        for process in writers + cleanups:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
        # Whatever order they ran in, the last commit standing is whole, or there is none.
        if (splits / "manifest.json").exists():
            manifest = json.loads((splits / "manifest.json").read_text())
            for filename in manifest["files"].values():
                assert (splits / filename).exists(), f"the manifest names a missing {filename}"
            run_cli("train", "--source", "nas", *common)
        else:
            result = run_cli("train", "--source", "nas", *common, check=False)
            assert result.returncode == 1 and "preprocess --sink nas" in result.stderr
        # The last writer alone: always a whole commit.
        run_cli("preprocess", "--sink", "nas", *common)
        run_cli("train", "--source", "nas", *common)
