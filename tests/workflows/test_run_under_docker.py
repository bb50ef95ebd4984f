"""Runs both workflows' pods as Docker containers of the built images.

This is a test harness, not a workflow engine. It reads a workflow file, renders each pod with
`argo_model` (which rejects anything beyond what our two workflows use), and runs the DAG's tasks
one after another in dependency order, then the onExit handler, each as a container with the pod's
image, command, args, env, user, read-only root filesystem, dropped capabilities and limits.
Volumes are host directories: `benchmark-data` is the stand-in NAS, `vineyard` a directory with
`vineyard-config.yaml` and the socket of a vineyardd container, as Fluid's mount gives a pod. It
does not retry, schedule, time out steps or run tasks in parallel; Argo does that in the cluster.

Needs Docker and the images (`make images vineyardd-image`): skipped without them, an error in CI.
"""

import json
import os
import re
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from argo_model import ROOT, WORKFLOWS, dag_template, load, pods

from tests.support.steps_table import REGISTRY, TAG, image

pytestmark = [pytest.mark.docker, pytest.mark.slow]

VINEYARDD_IMAGE = image("vineyardd")
# The smallest table (10,000 rows): the harness checks wiring, not speed.
MULTIPLIER = "1"
# jsonpath(tasks['T'].outputs.parameters.P, '$.KEY'): the one expression form the DAG outputs use.
JSONPATH = re.compile(r"^jsonpath\(tasks\['([^']+)'\]\.outputs\.parameters\.(\w+), '\$\.(\w+)'\)$")


# --- Kubernetes quantities to Docker limits -------------------------------------------------

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def memory_bytes(quantity: str) -> int:
    for suffix, factor in _BINARY.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    raise ValueError(f"memory quantity {quantity!r}: use a binary suffix (Ki, Mi, Gi, Ti)")


def nano_cpus(quantity: str) -> int:
    if quantity.endswith("m"):
        return int(quantity[:-1]) * 1_000_000
    return int(float(quantity) * 1_000_000_000)


# --- the harness ----------------------------------------------------------------------------


@dataclass
class Volumes:
    """Host directories standing in for the workflow's claims."""

    nas: Path
    vineyard: Path | None = None

    def binds(self, pod) -> dict:
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.volumes}
        host = {"benchmark-data": self.nas, "vineyard": self.vineyard}
        binds = {}
        for mount in pod.container.get("volumeMounts", []):
            claim = claims[mount["name"]]
            if host.get(claim) is None:
                raise AssertionError(f"{pod.task}: no host directory for claim {claim}")
            binds[str(host[claim])] = {"bind": mount["mountPath"], "mode": "rw"}
        return binds

    def host_path(self, pod, path: str) -> Path:
        """Where a path inside the pod's container lies on the host."""
        for host, bind in self.binds(pod).items():
            prefix = bind["bind"].rstrip("/") + "/"
            if path.startswith(prefix):
                return Path(host) / path[len(prefix) :]
        raise AssertionError(f"{pod.task}: {path} is on no volume, so it is lost at exit")


@dataclass
class Run:
    name: str
    exit_codes: dict = field(default_factory=dict)
    logs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)  # task -> {parameter: value}
    workflow_outputs: dict = field(default_factory=dict)
    before_exit: dict = field(default_factory=dict)  # what a test saw between the DAG and onExit

    def report(self) -> str:
        return "\n".join(
            f"--- {t} (exit {c})\n{self.logs[t][-3000:]}" for t, c in self.exit_codes.items()
        )


def run_container(client, pod, volumes: Volumes, name: str) -> tuple[int, str]:
    """Run one pod's container to completion, as the kubelet would with its security context."""
    c = pod.container
    sc = {**pod.security_context, **c.get("securityContext", {})}
    limits = c["resources"]["limits"]
    env = {e["name"]: e["value"] for e in c.get("env", [])}
    container = client.containers.run(
        c["image"],
        entrypoint=c["command"],
        command=c.get("args", []),
        environment=env,
        name=name,
        user=f"{sc['runAsUser']}:{sc.get('runAsGroup', sc['runAsUser'])}",
        read_only=bool(sc.get("readOnlyRootFilesystem")),
        cap_drop=sc.get("capabilities", {}).get("drop", []),
        security_opt=["no-new-privileges"] if sc.get("allowPrivilegeEscalation") is False else [],
        mem_limit=memory_bytes(limits["memory"]),
        nano_cpus=nano_cpus(limits["cpu"]),
        volumes=volumes.binds(pod),
        # The steps talk to vineyard over its UNIX socket only; nothing else needs a network.
        network_mode="none",
        labels={"shmpipe.test": "run-under-docker"},
        detach=True,
    )
    try:
        code = container.wait()["StatusCode"]
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def run_workflow(client, wf: dict, name: str, volumes: Volumes, on_dag_done=None) -> Run:
    """The DAG's tasks in order (stopping at the first failure, as a DAG would with nothing left
    to run), then onExit whatever happened. Output parameters are read from their volume."""
    overrides = {"data_multiplier": MULTIPLIER, "registry": REGISTRY, "tag": TAG}
    run = Run(name)
    all_pods = pods(wf, name, overrides)
    dag_pods, exit_pods = all_pods[:-1], all_pods[-1:]
    assert [p.task for p in exit_pods] == ["onExit"]
    for pod in dag_pods:
        code, logs = run_container(client, pod, volumes, f"{name}-{pod.task}")
        run.exit_codes[pod.task], run.logs[pod.task] = code, logs
        if code != 0:
            break
        outputs = pod.template.get("outputs", {}).get("parameters", [])
        run.outputs[pod.task] = {
            p["name"]: volumes.host_path(pod, p["valueFrom"]["path"]).read_text() for p in outputs
        }
    else:
        for p in dag_template(wf).get("outputs", {}).get("parameters", []):
            task, parameter, key = JSONPATH.match(p["valueFrom"]["expression"]).groups()
            run.workflow_outputs[p["name"]] = json.loads(run.outputs[task][parameter])[key]
    if on_dag_done:
        on_dag_done(run)
    (exit_pod,) = exit_pods
    code, logs = run_container(client, exit_pod, volumes, f"{name}-exit")
    run.exit_codes["onExit"], run.logs["onExit"] = code, logs
    return run


# --- fixtures: the NAS with its raw table, a vineyardd ---------------------------------------


def _world_writable_dir(path: Path) -> Path:
    # The containers run as uid 1000; the directories are created by whoever runs pytest.
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


@pytest.fixture(scope="module")
def nas(docker_client, tmp_path_factory):
    """The NAS, with the raw table written by the prepare-data Job exactly as `make cluster-data`
    would apply it."""
    from argo_model import Pod

    root = _world_writable_dir(tmp_path_factory.mktemp("nas"))
    manifest = subprocess.run(
        ["make", "--no-print-directory", "-s", "cluster-data-manifest", f"REGISTRY={REGISTRY}",
         f"TAG={TAG}", f"DATA_MULTIPLIER={MULTIPLIER}"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    (job,) = [d for d in yaml.safe_load_all(manifest) if d]
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    pod = Pod("prepare-data", {"container": container}, {}, spec["volumes"],
              spec["securityContext"], spec["serviceAccountName"])  # fmt: skip
    code, logs = run_container(docker_client, pod, Volumes(root), f"shmpipe-prepare-{os.getpid()}")
    assert code == 0, logs
    assert (root / "raw" / f"housing-m{MULTIPLIER}.arrow").exists(), logs
    return root


@pytest.fixture(scope="module")
def vineyard(docker_client, tmp_path_factory):
    """A vineyardd container and the directory Fluid's mount would give a pod: the config file and
    the socket it names, relative to the file."""
    directory = _world_writable_dir(tmp_path_factory.mktemp("vineyard"))
    (directory / "vineyard-config.yaml").write_text("Vineyard:\n  IPCSocket: vineyard.sock\n")
    container = docker_client.containers.run(
        VINEYARDD_IMAGE,
        name=f"shmpipe-vineyardd-{os.getpid()}",
        volumes={str(directory): {"bind": "/var/run/vineyard", "mode": "rw"}},
        network_mode="none",
        labels={"shmpipe.test": "run-under-docker"},
        detach=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (directory / "vineyard.sock").exists():
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                pytest.fail(f"vineyardd did not start:\n{container.logs().decode()}")
            time.sleep(0.2)
        yield directory
    finally:
        container.remove(force=True)


def vineyard_names(client, vineyard_dir: Path, run_id: str) -> list[str]:
    """The vineyard names under the run's prefix, asked from a step image with core's client."""
    script = (
        "import json, sys\n"
        "from shmpipe_core.vineyard_connect import connect\n"
        "client, _ = connect()\n"
        "names = client.list_names(sys.argv[1] + '/*', limit=1 << 20)\n"
        "print(json.dumps(sorted(str(n) for n in names)))\n"
    )
    output = client.containers.run(
        image("prepare-data"),
        entrypoint=["/app/bin/python", "-c", script, run_id],
        user="1000:1000",
        read_only=True,
        volumes={str(vineyard_dir): {"bind": "/var/run/vineyard", "mode": "rw"}},
        network_mode="none",
        remove=True,
    )
    return json.loads(output.decode().strip().splitlines()[-1])


# --- the tests ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nas_run(docker_client, nas):
    def record(run):
        run.before_exit["splits"] = _split_files(nas, run.name)

    wf = load(WORKFLOWS["nas"])
    name = f"machine-learning-pipeline-{os.getpid()}"
    return run_workflow(docker_client, wf, name, Volumes(nas), on_dag_done=record)


def _split_files(nas: Path, run_id: str) -> list[str]:
    splits = nas / "runs" / run_id / "splits"
    return sorted(p.name for p in splits.iterdir()) if splits.exists() else []


def test_nas_workflow_succeeds_and_cleans_up(nas_run, nas):
    assert set(nas_run.exit_codes.values()) == {0}, nas_run.report()
    assert isinstance(nas_run.workflow_outputs["mse"], float)
    assert nas_run.before_exit["splits"], "the DAG left no split on the NAS"
    # onExit removed the split and kept the model and the metrics.
    assert _split_files(nas, nas_run.name) == []
    for kept in ("model.json", "metrics.json"):
        assert (nas / "runs" / nas_run.name / kept).exists(), kept


def test_vineyard_workflows_run_concurrently_to_the_nas_mse(docker_client, nas, vineyard, nas_run):
    """Two vineyard runs at once against one vineyardd, with different names: both succeed, both
    give the NAS run's MSE, and each one's onExit removes its own objects and only those."""
    wf = load(WORKFLOWS["vineyard"])
    names = [f"machine-learning-pipeline-with-vineyard-{os.getpid()}-{i}" for i in (1, 2)]
    both_dags_done = threading.Barrier(2, timeout=600)

    def observe(run):
        # What vineyard holds for this run once its DAG is done, before its own onExit. Waiting
        # for the other run keeps both runs' objects in vineyard at the same time.
        run.before_exit["names"] = vineyard_names(docker_client, vineyard, run.name)
        both_dags_done.wait()

    volumes = Volumes(nas, vineyard)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda n: run_workflow(docker_client, wf, n, volumes, observe), names))

    for run in runs:
        assert set(run.exit_codes.values()) == {0}, run.report()
        assert run.workflow_outputs["mse"] == pytest.approx(nas_run.workflow_outputs["mse"])
        assert run.before_exit["names"], f"{run.name}: no vineyard objects after its DAG"
        assert all(n.startswith(run.name + "/") for n in run.before_exit["names"])
        assert vineyard_names(docker_client, vineyard, run.name) == [], f"{run.name}: left behind"
        # The split went through vineyard, never the NAS; the model and metrics are on the NAS.
        assert not (nas / "runs" / run.name / "splits").exists()
        for kept in ("model.json", "metrics.json"):
            assert (nas / "runs" / run.name / kept).exists(), kept
