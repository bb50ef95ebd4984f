"""Runs both workflows' pods as Docker containers of the built images.

This is a test harness, not a workflow engine. It reads a workflow file, renders each pod with
`argo_model` (templateDefaults merged, tags substituted, loops expanded over the outputs of the
pods before, `when` decided; it rejects anything beyond what our two workflows use), places each
pod on a node as Fluid's webhook and the scheduler would with the pod's own affinity
(`fluid_model`), and runs the DAG's pods one after another in dependency order, then the onExit
handler whatever happened, each as a container with the pod's image, command, args, env (the
node's name from the downward API), user, read-only root filesystem, dropped capabilities and
limits. Output parameters are read from the volume as Argo's wait container reads them, and the
workflow's outputs are what Argo would promote.

Volumes are host directories. `benchmark-data` is the stand-in NAS. The vineyard claim is, per
node, the directory Fluid's mount gives a pod there, read-only: vineyard-config.yaml naming
`vineyard-worker.sock`, and that socket only on the two nodes (of three) that run a vineyard
worker, each a vineyardd container of its own metadata: a pod on the wrong node finds nothing
there and fails, where a cluster's workers (sharing Fluid's etcd) would fetch the split across
nodes. So a cleanup deletes only what its node's vineyardd holds here, which a cluster's does not
limit (tests/reliability/test_two_nodes.py). It does not run Argo's init and wait containers
(their image is not here; `test_workflow_semantics` checks them), retry, time out steps or run
pods in parallel; Argo does that in the cluster.

Needs Docker and the images (`make images vineyardd-image`): skipped without them, an error in CI.
"""

import copy
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from argo_model import (
    ROOT,
    WORKFLOWS,
    Pod,
    container_env,
    exit_pod,
    load,
    output_parameters,
    pods,
    run_dag,
    workflow_outputs,
)
from fluid_model import (
    CONFIG_NAME,
    NODES,
    SOCKET_NAME,
    Runtime,
    config_text,
    deployed_runtime,
    schedule,
    webhook_affinity,
)

from tests.support.steps_table import REGISTRY, TAG, image

pytestmark = [pytest.mark.docker, pytest.mark.slow]

VINEYARDD_IMAGE = image("vineyardd")
# The smallest table (10,000 rows): the harness checks wiring, not speed.
MULTIPLIER = "1"


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


# --- the cluster: NAS, nodes, Fluid's mount per node ----------------------------------------


@dataclass
class Cluster:
    """Host directories standing in for the claims, and where Fluid's runtime runs."""

    nas: Path
    runtime: Runtime | None = None
    fuse_dirs: dict = field(default_factory=dict)  # node -> what the vineyard claim shows there
    placed: list = field(default_factory=list)  # (node, pod labels) of every pod placed so far
    lock: threading.Lock = field(default_factory=threading.Lock)

    def place(self, pod) -> str:
        """The node the pod runs on: Fluid's webhook adds its affinity to the pod's own, the
        scheduler picks. Without Fluid no node runs a worker, and nothing is added."""
        runtime = self.runtime or Runtime("", "", ())
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.volumes]
        webhook = webhook_affinity(pod.labels, claims, runtime)
        with self.lock:
            node = schedule(pod.affinity, webhook, runtime, self.placed)
            self.placed.append((node, pod.pod_labels))
        return node

    def binds(self, pod, node: str) -> dict:
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.volumes}
        binds = {}
        for mount in pod.container.get("volumeMounts", []):
            claim = claims[mount["name"]]
            if claim == "benchmark-data":
                binds[str(self.nas)] = {"bind": mount["mountPath"], "mode": "rw"}
            elif self.runtime is not None and claim == self.runtime.dataset:
                # Fluid's CSI plugin publishes the volume as a symlink before its `-o ro` branch
                # (workflows/NOTES.md), so only the mount's own readOnly makes it read-only.
                mode = "ro" if mount.get("readOnly") else "rw"
                binds[str(self.fuse_dirs[node])] = {"bind": mount["mountPath"], "mode": mode}
            else:
                raise AssertionError(f"{pod.task}: no host directory for claim {claim}")
        return binds

    def reader(self, node: str):
        """Reads a file a pod on `node` wrote on one of its volumes, as Argo's wait container
        does through its /mainctrfs mounts."""

        def read(pod, path: str) -> str:
            for host, bind in self.binds(pod, node).items():
                prefix = bind["bind"].rstrip("/") + "/"
                if path.startswith(prefix):
                    return (Path(host) / path[len(prefix) :]).read_text()
            # The root filesystem is read-only, so the step cannot have written it anywhere else.
            raise AssertionError(f"{pod.task}: {path} is on no volume")

        return read


@dataclass
class Run:
    name: str
    nodes: dict = field(default_factory=dict)  # Argo's node name of each pod -> its node
    exit_codes: dict = field(default_factory=dict)
    logs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)  # Argo's node name -> output parameters
    workflow_outputs: dict = field(default_factory=dict)
    before_exit: dict = field(default_factory=dict)  # what a test saw between the DAG and onExit
    tasks: dict = field(default_factory=dict)  # task -> argo_model's Node

    def of(self, task: str) -> list[str]:
        """The Argo node names of a task's pods that ran (a loop's in order)."""
        return [n for n in self.exit_codes if n == task or n.startswith(task + "(")]

    def report(self) -> str:
        return "\n".join(
            f"--- {t} on {self.nodes[t]} (exit {c})\n{self.logs[t][-3000:]}"
            for t, c in self.exit_codes.items()
        )


def run_container(client, pod, binds: dict, name: str, node: str = NODES[0]) -> tuple[int, str]:
    """Run one pod's main container to completion, as the kubelet would with its security
    context."""
    c = pod.container
    sc = {**pod.security_context, **c.get("securityContext", {})}
    limits = c["resources"]["limits"]
    env = container_env(c, node)
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
        volumes=binds,
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


def run_pod(client, cluster: Cluster, pod, run: Run, name: str, node: str | None = None) -> int:
    """Run one pod on the node the scheduler picks (or on `node`); its outputs once it
    succeeded."""
    node = node or cluster.place(pod)
    code, logs = run_container(client, pod, cluster.binds(pod, node), name, node)
    run.nodes[pod.node], run.exit_codes[pod.node], run.logs[pod.node] = node, code, logs
    if code == 0:
        run.outputs[pod.node] = output_parameters(pod, cluster.reader(node))
    return code


def container_name(run: str, pod) -> str:
    """Docker allows [a-zA-Z0-9_.-] in names: a loop's pod `task(0:...)` is `task-0`."""
    task, _, item = pod.node.partition("(")
    return f"{run}-{task}" + (f"-{item.split(':')[0]}" if item else "")


def run_workflow(
    client, wf: dict, name: str, cluster: Cluster, on_dag_done=None, multiplier=MULTIPLIER,
    partitions="1",
) -> Run:  # fmt: skip
    """The DAG as argo_model runs it (a failed pod fails its task, and what depends on it is not
    run), then onExit: Argo runs the exit handler whether the DAG succeeded or failed
    (workflow/controller/operator.go, operate: onExit runs once the workflow's main node is
    fulfilled, whatever its phase)."""
    overrides = {"data_multiplier": multiplier, "partitions": partitions, "registry": REGISTRY,
                 "tag": TAG}  # fmt: skip
    run = Run(name)

    def one(pod):
        code = run_pod(client, cluster, pod, run, container_name(name, pod))
        return run.outputs[pod.node] if code == 0 else None

    run.tasks = run_dag(wf, one, name, overrides)
    run.workflow_outputs = workflow_outputs(run.outputs)
    if on_dag_done:
        on_dag_done(run)
    run_pod(client, cluster, exit_pod(wf, name, overrides), run, f"{name}-exit")
    return run


# --- fixtures: the NAS with its raw table, Fluid's vineyard ----------------------------------


def _world_writable_dir(path: Path) -> Path:
    # The containers run as uid 1000; the directories are created by whoever runs pytest.
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


@pytest.fixture(scope="module")
def nas(docker_client, tmp_path_factory):
    """The NAS, with the raw table written by the prepare-data Job exactly as `make cluster-data`
    would apply it."""
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
    binds = Cluster(root).binds(pod, NODES[0])
    code, logs = run_container(docker_client, pod, binds, f"shmpipe-prepare-{os.getpid()}")
    assert code == 0, logs
    assert (root / "raw" / f"housing-m{MULTIPLIER}.arrow").exists(), logs
    return root


def _start_worker(client, node: str, worker_dir: Path):
    """A vineyard worker as Fluid's chart runs it: its socket `vineyard-worker.sock` in the
    directory it shares with the node (charts/vineyard/templates/worker/statefulset.yaml)."""
    container = client.containers.run(
        VINEYARDD_IMAGE,
        entrypoint=[
            "vineyardd",
            "-meta=local",
            "-rpc=false",
            "-size=512Mi",
            f"-socket=/var/run/vineyard/{SOCKET_NAME}",
        ],  # fmt: skip
        name=f"shmpipe-vineyardd-{node}-{os.getpid()}",
        volumes={str(worker_dir): {"bind": "/var/run/vineyard", "mode": "rw"}},
        network_mode="none",
        labels={"shmpipe.test": "run-under-docker"},
        detach=True,
    )
    return container


@dataclass
class Fluid:
    runtime: Runtime
    fuse_dirs: dict  # node -> what the vineyard claim shows a pod there

    def cluster(self, nas: Path) -> Cluster:
        return Cluster(nas, self.runtime, self.fuse_dirs)


@pytest.fixture(scope="module")
def fluid(docker_client, tmp_path_factory):
    """deploy/vineyard.yaml's runtime on three nodes: a worker on two of them, and on every node
    the directory the claim shows a pod there. v6d's fuse writes vineyard-config.yaml into it and
    hard-links the worker's socket into it when the node runs one (docker/vineyard-fluid-fuse/
    entrypoint.sh); the mount is a subdirectory of the worker's (pkg/ddc/vineyard/utils.go,
    getMountPoint: `.../<namespace>/<name>/vineyard-fuse`)."""
    runtime = deployed_runtime()
    root = tmp_path_factory.mktemp("fluid")
    fuse_dirs, workers = {}, []
    try:
        for node in NODES:
            worker_dir = _world_writable_dir(root / node)
            fuse_dirs[node] = _world_writable_dir(worker_dir / "vineyard-fuse")
            (fuse_dirs[node] / CONFIG_NAME).write_text(config_text())
            if runtime.has_socket(node):
                workers.append((node, _start_worker(docker_client, node, worker_dir)))
        deadline = time.monotonic() + 60
        for node, container in workers:
            socket = root / node / SOCKET_NAME
            while not socket.exists():
                container.reload()
                if container.status == "exited" or time.monotonic() > deadline:
                    pytest.fail(f"vineyardd on {node} did not start:\n{container.logs().decode()}")
                time.sleep(0.2)
            os.link(socket, fuse_dirs[node] / SOCKET_NAME)
        yield Fluid(runtime, fuse_dirs)
    finally:
        for _, container in workers:
            container.remove(force=True)


def vineyard_names(client, vineyard_dir: Path, run_id: str) -> list[str]:
    """The vineyard names under the run's prefix, asked from a step image with core's client."""
    script = (
        "import json, sys\n"
        "from shmpipe_core.vineyard import Vineyard\n"
        "client = Vineyard().connect()\n"
        "names = client.list_names(sys.argv[1] + '/*', limit=1 << 20)\n"
        "print(json.dumps(sorted(str(n) for n in names)))\n"
    )
    output = client.containers.run(
        image("prepare-data"),
        entrypoint=["/app/bin/python", "-c", script, run_id],
        user="1000:1000",
        read_only=True,
        volumes={str(vineyard_dir): {"bind": "/var/run/vineyard", "mode": "ro"}},
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
    return run_workflow(docker_client, wf, name, Cluster(nas), on_dag_done=record)


def _split_files(nas: Path, run_id: str) -> list[str]:
    """Every file of the run's splits: `splits/`, and each partition's `part-<k>/splits/`."""
    run = nas / "runs" / run_id
    return sorted(str(p.relative_to(run)) for d in ["splits", "part-*/splits"]
                  for p in run.glob(f"{d}/*"))  # fmt: skip


def _metrics_mse(nas: Path, run_id: str) -> float:
    return json.loads((nas / "runs" / run_id / "metrics.json").read_text())["mse"]


def test_nas_workflow_succeeds_and_cleans_up(nas_run, nas):
    assert set(nas_run.exit_codes.values()) == {0}, nas_run.report()
    assert nas_run.before_exit["splits"], "the DAG left no split on the NAS"
    # onExit removed the split and kept the model and the metrics.
    assert _split_files(nas, nas_run.name) == []
    for kept in ("model.json", "metrics.json"):
        assert (nas / "runs" / nas_run.name / kept).exists(), kept


def test_argo_get_prints_the_mse_in_full_precision(nas_run, nas):
    """The workflow's outputs (what `argo get` prints) hold the MSE as the text of the very float
    evaluate computed: no digit lost on the way."""
    assert "mse" in nas_run.workflow_outputs, (
        f"no `mse` among the workflow's outputs {nas_run.workflow_outputs}: only a pod's "
        "globalName outputs reach them"
    )
    assert nas_run.workflow_outputs["mse"] == repr(_metrics_mse(nas, nas_run.name))


def test_on_exit_runs_after_a_failed_step(docker_client, nas):
    """A DAG that fails (no raw table for this multiplier) still runs its exit handler."""
    wf = load(WORKFLOWS["nas"])
    name = f"machine-learning-pipeline-fails-{os.getpid()}"
    run = run_workflow(docker_client, wf, name, Cluster(nas), multiplier="7")
    (preprocess,) = run.of("preprocess-data")
    assert run.exit_codes[preprocess] != 0, run.report()
    assert run.of("train-data") == [] and run.tasks["train-data"].phase == "Omitted"
    assert run.exit_codes["onExit"] == 0, run.report()
    assert run.workflow_outputs == {}


def _mse_pods(run: Run) -> list[str]:
    return [n for n, outputs in run.outputs.items() if "mse" in outputs]


def check_partitioned_run(run: Run, partitions: int, runtime: Runtime | None) -> None:
    """Each partition's preprocess on a node of its own (while there are enough), its train and
    evaluate where its placement record says it is, both merges run, and the MSE promoted by the
    evaluate merge alone."""
    assert set(run.exit_codes.values()) == {0}, run.report()
    pre = run.of("preprocess-data")
    assert len(pre) == partitions
    pre_nodes = [run.nodes[n] for n in pre]
    capacity = len(runtime.worker_nodes) if runtime else len(NODES)
    assert len(set(pre_nodes)) == min(partitions, capacity), pre_nodes
    for k, node in enumerate(pre_nodes):
        placement = json.loads(run.outputs[pre[k]]["placement"]["value"])
        assert placement["partition"] == k and placement["node"] == node, placement
        for task in ("train-data", "test-data-part"):
            mine = [n for n in run.of(task) if f"partition:{k}" in n]
            assert [run.nodes[n] for n in mine] == [node], (task, k, run.nodes)
    assert run.of("test-data") == [] and run.tasks["test-data"].phase == "Skipped"
    assert run.of("train-merge") == ["train-merge"] and run.of("test-merge") == ["test-merge"]
    assert _mse_pods(run) == ["test-merge"]


@pytest.mark.parametrize("partitions", [2, 3])
def test_nas_workflow_in_partitions_gives_the_one_partition_mse(docker_client, nas, nas_run,
                                                               partitions):  # fmt: skip
    """Partitions on NAS (where no node holds a split, but the workflow places them alike): the
    one-partition run's MSE to 1e-12."""
    wf = load(WORKFLOWS["nas"])
    name = f"machine-learning-pipeline-p{partitions}-{os.getpid()}"
    run = run_workflow(docker_client, wf, name, Cluster(nas), partitions=str(partitions))
    check_partitioned_run(run, partitions, None)
    assert float(run.workflow_outputs["mse"]) == pytest.approx(
        float(nas_run.workflow_outputs["mse"]), rel=1e-12
    )
    assert _split_files(nas, run.name) == []


def test_one_partition_is_todays_run(nas_run):
    """P=1: one pod per step, no merge, and the MSE from the one evaluate pod."""
    assert [n.split("(")[0] for n in nas_run.exit_codes] == [
        "preprocess-data", "train-data", "test-data", "onExit"
    ]  # fmt: skip
    assert nas_run.tasks["train-merge"].phase == "Skipped"
    assert nas_run.tasks["test-merge"].phase == "Skipped"
    assert _mse_pods(nas_run) == nas_run.of("test-data")


def test_vineyard_workflows_run_concurrently_to_the_nas_mse(docker_client, nas, fluid, nas_run):
    """Two vineyard runs at once, with different names, one in one partition and one in two: both
    succeed on nodes that run a vineyard worker, the two partitions on the two workers, each one's
    train and evaluate where its split is (on any other node vineyard here has none of it); both
    give the NAS run's MSE to 1e-12, and each one's onExit removes its own objects and only
    those, on the node it runs on."""
    wf = load(WORKFLOWS["vineyard"])
    names = [f"machine-learning-pipeline-with-vineyard-{os.getpid()}-p{p}" for p in (1, 2)]
    both_dags_done = threading.Barrier(2, timeout=600)
    cluster = fluid.cluster(nas)

    def observe(run):
        # What vineyard holds for this run on each node once its DAG is done, before its own
        # onExit. Waiting for the other run keeps both runs' objects in vineyard at once.
        run.before_exit["names"] = {
            node: vineyard_names(docker_client, fluid.fuse_dirs[node], run.name)
            for node in fluid.runtime.worker_nodes
        }
        both_dags_done.wait()

    def one(name: str) -> Run:
        partitions = name.rsplit("-p", 1)[1]
        return run_workflow(docker_client, wf, name, cluster, observe, partitions=partitions)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(one, names))

    for run, partitions in zip(runs, (1, 2), strict=True):
        assert set(run.exit_codes.values()) == {0}, run.report()
        assert all(fluid.runtime.has_socket(n) for n in run.nodes.values()), run.nodes
        if partitions > 1:
            check_partitioned_run(run, partitions, fluid.runtime)
        assert float(run.workflow_outputs["mse"]) == pytest.approx(
            float(nas_run.workflow_outputs["mse"]), rel=1e-12
        )
        held = run.before_exit["names"]
        pre_nodes = {run.nodes[n] for n in run.of("preprocess-data")}
        assert {node for node, names in held.items() if names} == pre_nodes, held
        assert all(n.startswith(run.name + "/") for names in held.values() for n in names)
        # No pod read a split from another node (the workers share nothing here, and a step
        # says so when it fetches).
        assert not any("another vineyardd" in log for log in run.logs.values()), run.report()
        node = run.nodes["onExit"]
        assert vineyard_names(docker_client, fluid.fuse_dirs[node], run.name) == [], run.name
        # The split went through vineyard, never the NAS; the model and metrics are on the NAS.
        assert _split_files(nas, run.name) == []
        for kept in ("model.json", "metrics.json"):
            assert (nas / "runs" / run.name / kept).exists(), kept


def test_a_partition_off_its_node_fails_here(docker_client, nas, fluid):
    """What keeps a partition's train on its node is the workflow's own node affinity: without
    it the scheduler may pick the other worker, whose vineyardd (sharing nothing here) has no
    such split, and train fails saying what is missing. On a cluster it would fetch the split
    across nodes instead, and say so."""
    wf = load(WORKFLOWS["vineyard"])
    (train,) = [t for t in wf["spec"]["templates"] if t["name"] == "train-data"]
    del train["affinity"]
    name = f"machine-learning-pipeline-with-vineyard-misplaced-{os.getpid()}"
    run = run_workflow(docker_client, wf, name, fluid.cluster(nas), partitions="2")
    pre = {run.nodes[n] for n in run.of("preprocess-data")}
    train = {n: run.nodes[n] for n in run.of("train-data")}
    assert len(pre) == 2 and len(set(train.values())) == 1, (pre, train)
    assert sorted(run.exit_codes[n] != 0 for n in train) == [False, True], run.report()
    assert run.tasks["train-merge"].phase == "Omitted", run.report()


def test_a_vineyard_pod_not_required_next_to_a_worker_can_fail(docker_client, nas, fluid):
    """Without the `fluid.io/dataset.vineyard.sched: required` label the webhook only *prefers*
    worker nodes, so the step may land on the node without one, where the mount has the config
    but no socket: it fails there, saying so."""
    wf = copy.deepcopy(load(WORKFLOWS["vineyard"]))
    del wf["spec"]["podMetadata"]["labels"]["fluid.io/dataset.vineyard.sched"]
    name = f"machine-learning-pipeline-unplaced-{os.getpid()}"
    (preprocess, *_) = pods(wf, name, {"data_multiplier": MULTIPLIER, "registry": REGISTRY,
                                       "tag": TAG})  # fmt: skip
    cluster = fluid.cluster(nas)
    run = Run(name)
    code = run_pod(docker_client, cluster, preprocess, run, f"{name}-preprocess")
    assert not fluid.runtime.has_socket(run.nodes[preprocess.node])
    assert code != 0, run.report()
    assert "no vineyard server answers" in run.logs[preprocess.node], run.report()
