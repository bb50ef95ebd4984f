"""`make kfp` is reproducible: compiling the definitions again gives the committed YAML, byte for
byte. A change to workflows/kfp/pipelines.py without `make kfp` (or an edit by hand to the YAML)
fails here."""

import difflib
import subprocess
import sys

from kfp_model import COMPILED, KFP_DIR


def test_committed_yaml_is_what_the_definitions_compile_to(tmp_path):
    # The same command as `make kfp`, into another folder.
    result = subprocess.run(
        [sys.executable, str(KFP_DIR / "pipelines.py"), "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for path in COMPILED.values():
        fresh = (tmp_path / path.name).read_text()
        committed = path.read_text()
        if fresh != committed:
            diff = "".join(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    str(path.relative_to(KFP_DIR.parents[1])),
                    "fresh compile",
                    n=2,
                )
            )
            raise AssertionError(f"{path.name} is stale: run `make kfp` and commit\n{diff}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in COMPILED.values())


def test_compiling_with_another_registry_changes_only_the_image_defaults(tmp_path):
    """`--registry`/`--tag` are for users of another registry; the committed files use the Argo
    workflows' defaults, and the two compiles differ in the image references only."""
    subprocess.run(
        [sys.executable, str(KFP_DIR / "pipelines.py"), "--out-dir", str(tmp_path)]
        + ["--registry", "registry.example:5000/ml", "--tag", "v7"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for path in COMPILED.values():
        committed = path.read_text().splitlines()
        fresh = (tmp_path / path.name).read_text().splitlines()
        changed = [(a, b) for a, b in zip(committed, fresh, strict=True) if a != b]
        assert changed, f"{path.name}: --registry/--tag changed nothing"
        for old, new in changed:
            assert "test-registry/" in old and ":latest" in old, old
            assert new == old.replace("test-registry/", "registry.example:5000/ml/").replace(
                ":latest", ":v7"
            )
