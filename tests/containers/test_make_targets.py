"""The Makefile's image targets as `make -n` prints them: no Docker needed."""

import os
import re
import shutil
import subprocess

from tests.support.steps_table import ROOT, STEP_IMAGES


def make_n(*args: str) -> list[str]:
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # One command per line: make prints a recipe's continued lines with their backslashes.
    return out.replace("\\\n", " ").splitlines()


def test_push_images_builds_under_the_names_it_pushes():
    # Images exist only under the REGISTRY and TAG they were built with: pushing to another
    # registry than the one `make images` used must build (from the cache) under that name first.
    lines = make_n("push-images", "REGISTRY=registry.example.com/ml", "TAG=v1")
    built = [m[1] for line in lines if (m := re.search(r"docker build .* -t (\S+) \.$", line))]
    pushes = [line for line in lines if "docker push" in line]
    assert built == [f"registry.example.com/ml/{name}:v1" for name in STEP_IMAGES]
    assert pushes and lines.index(pushes[0]) > max(
        i for i, line in enumerate(lines) if "docker build" in line
    )
    assert "docker push registry.example.com/ml/$i:v1" in pushes[0]


def test_load_images_builds_first():
    lines = make_n("load-images", "REGISTRY=r", "TAG=t")
    assert sum("docker build" in line for line in lines) == len(STEP_IMAGES)


def test_platform_reaches_every_build():
    # An arm64 machine building for amd64 nodes: every image must be built for the nodes.
    builds = [
        line
        for line in make_n("images", "vineyardd-image", "PLATFORM=linux/amd64")
        if "docker build" in line
    ]
    assert len(builds) == len(STEP_IMAGES) + 1
    assert all("--platform linux/amd64" in line for line in builds)
    without = [line for line in make_n("images") if "docker build" in line]
    assert without and not any("--platform" in line for line in without)


def _tag(repo) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("TAG", "REGISTRY")}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "print-tag: ; @echo $(TAG)", "print-tag"],
        cwd=repo, capture_output=True, text=True, check=True, env=env,
    ).stdout.strip()  # fmt: skip


def test_the_default_tag_changes_with_every_uncommitted_change(tmp_path):
    # The workflows pull IfNotPresent: an image rebuilt from edited code under the commit's tag
    # would leave a node running the one it cached before.
    def git(*args):
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    git("init", "-q")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / ".gitignore").write_text("data/\n")
    (tmp_path / "step.py").write_text("one\n")
    git("add", "-A")
    git("commit", "-qm", "base")
    clean = _tag(tmp_path)
    assert clean == git("rev-parse", "--short", "HEAD")

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ignored").write_text("x\n")
    assert _tag(tmp_path) == clean, "an ignored file changed the tag"

    (tmp_path / "step.py").write_text("two\n")
    edited = _tag(tmp_path)
    (tmp_path / "step.py").write_text("three\n")
    edited_again = _tag(tmp_path)
    (tmp_path / "new.py").write_text("untracked\n")
    with_untracked = _tag(tmp_path)
    tags = [clean, edited, edited_again, with_untracked]
    assert all(t.startswith(f"{clean}-dirty-") for t in tags[1:]), tags
    assert len(set(tags)) == 4, tags
    # Nothing was staged in the real index along the way.
    assert git("diff", "--cached", "--name-only") == ""
