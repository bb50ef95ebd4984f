"""The compiled Kubeflow Pipelines (workflows/kfp/*.yaml), read back with the kfp SDK, say what the
Argo workflows say: same steps, commands, flags, images, resources, claims and labels; the run id
is KFP's run id; the MSE is read-mse's output (the pipeline declares it too); cleanup is the exit
handler. And their command lines, run as processes on a real data dir (and vineyardd), give the
seed's MSE."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from argo_model import WORKFLOWS, load, pods, templates
from kfp import dsl
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s_pb2
from kfp_model import (
    COMPILED,
    ModelError,
    _image,
    _render,
    claims,
    condition_holds,
    groups,
    run,
    tasks,
)
from kfp_model import load as load_kfp
from shmpipe_core.dataset import raw_path

from tests.support.processes import BIN, run_cli
from tests.support.reference import seed_mse
from tests.support.steps_table import STEP_IMAGES, image

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = sorted(COMPILED)
RUN_ID = "3f2b8c1e-0d4a-4c1b-9e57-2a6f0b7d9c11"  # a KFP run id is a UUID
STEPS = ["preprocess-data", "train-data", "test-data"]
# Each step's tasks at several partitions: the partitions' and the merges.
PARTITIONED = ["preprocess-data", "train-data", "train-merge", "test-data-part", "test-merge"]
# Tasks with no Argo counterpart: KFP loops over a list, so one makes the partitions' numbers; it
# reads a file into an output, so one per partition turns its placement record into the pod's
# node affinity; and read-mse.
KFP_ONLY = ["partition-list", "partition-node", "read-mse"]
PARTITIONS = [1, 2]
# The tag in the KFP definitions' default image references (the Argo workflows have no default).
KFP_DEFAULT_TAG = "latest"
FLUID_LABELS = {
    "fuse.serverful.fluid.io/inject": "true",
    "fluid.io/dataset.vineyard.sched": "required",
}


@pytest.fixture(params=VARIANTS)
def variant(request):
    return request.param


@pytest.fixture
def kfp(variant):
    return load_kfp(COMPILED[variant])


@pytest.fixture
def argo(variant):
    return load(WORKFLOWS[variant])


def by_name(task_list):
    return {t.name: t for t in task_list}


def _partition(args) -> str | None:
    return args[args.index("--partition") + 1] if "--partition" in args else None


def argo_pods(wf, name=RUN_ID, partitions=1):
    """The Argo workflow's pods by template name and partition (the exit handler's task is called
    onExit), submitted with the image tag the KFP definitions default to."""
    overrides = {"tag": KFP_DEFAULT_TAG, "partitions": str(partitions)}
    return {(p.template["name"], _partition(p.container["args"])): p
            for p in pods(wf, name, overrides)}  # fmt: skip


def kfp_tasks(kfp, partitions=1, run_id=RUN_ID):
    """The KFP run's tasks that have an Argo counterpart, by name and partition."""
    return {(t.name, _partition(t.args)): t for t in tasks(kfp, run_id, {"partitions": partitions})
            if not any(t.name.startswith(k) for k in KFP_ONLY)}  # fmt: skip


def _kfp_only(task) -> bool:
    return any(task.name.startswith(k) for k in KFP_ONLY)


def raw_spec(kfp) -> dict:
    from google.protobuf import json_format

    return json_format.MessageToDict(kfp.pipeline_spec)


# --- the same pods as the Argo workflow ---------------------------------------------------------


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_same_tasks_as_the_argo_workflow_plus_its_own(kfp, argo, partitions):
    """The same step pods, partition by partition, at one partition and at several."""
    assert set(kfp_tasks(kfp, partitions)) == set(argo_pods(argo, partitions=partitions))
    names = {t.name.rstrip("-0123456789") for t in tasks(kfp, RUN_ID, {"partitions": partitions})}
    assert names - {p[0] for p in argo_pods(argo, partitions=partitions)} == {
        "partition-list", "partition-node", "read-mse"
    }  # fmt: skip


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_each_pod_runs_what_the_argo_pod_runs(kfp, argo, partitions):
    """Image, command, flags (with the same run id), resources, pull policy, claims at their mount
    paths: equal to the Argo pod of the same name and partition."""
    rendered = kfp_tasks(kfp, partitions)
    for name, pod in argo_pods(argo, partitions=partitions).items():
        task, container = rendered[name], pod.container
        assert task.image == container["image"], name
        assert task.command == container["command"], name
        assert task.args == container["args"], name
        assert task.resources == container["resources"], name
        assert task.kubernetes.image_pull_policy == container["imagePullPolicy"], name
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.volumes}
        argo_claims = {claims[m["name"]]: m["mountPath"] for m in container["volumeMounts"]}
        assert task.claims == argo_claims, name


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_every_argo_pod_label_is_on_the_kfp_pod(kfp, argo, partitions):
    rendered = kfp_tasks(kfp, partitions)
    for name, pod in argo_pods(argo, partitions=partitions).items():
        assert pod.labels.items() <= rendered[name].labels.items(), name


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_partitions_land_where_their_placement_record_says(kfp, argo, partitions):
    """preprocess gets NODE_NAME from the pod's spec.nodeName; each partition's train and evaluate
    get the node affinity its partition-node task makes of the record, the Argo pod's own: the
    node's name exactly."""
    rendered = kfp_tasks(kfp, partitions)
    argo = argo_pods(argo, partitions=partitions)
    for (name, partition), task in rendered.items():
        env = [(e.name, e.field_path) for e in task.kubernetes.field_path_as_env]
        assert env == ([("NODE_NAME", "spec.nodeName")] if name == "preprocess-data" else [])
        if name in ("train-data", "test-data", "test-data-part"):
            assert task.node_affinity == argo[name, partition].affinity["nodeAffinity"], name
        else:
            assert task.node_affinity is None, name


def test_identity_is_the_argo_workflows_and_the_rest_is_said_to_be_missing(kfp, argo):
    """runAsUser/runAsGroup/runAsNonRoot are what kfp-kubernetes can set; the rest of Argo's
    securityContext is KFP's own default or missing, and the docs say so."""
    pod_sc = argo["spec"]["securityContext"]
    for task in tasks(kfp, RUN_ID):
        sc = task.kubernetes.security_context
        assert sc.run_as_user == pod_sc["runAsUser"], task.name
        assert sc.run_as_group == pod_sc["runAsGroup"], task.name
        assert sc.run_as_non_root is pod_sc["runAsNonRoot"], task.name
    readme = (ROOT / "workflows" / "README.md").read_text()
    assert "readOnlyRootFilesystem" in readme and "serviceAccountName" in readme


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_vineyard_pods_mount_the_fluid_claim_and_carry_the_fluid_labels(partitions):
    for task in tasks(load_kfp(COMPILED["vineyard"]), RUN_ID, {"partitions": partitions}):
        if _kfp_only(task):
            # They read the partitions' count or one NAS file: no vineyard, and no need to wait
            # for a node with a fuse.
            assert task.claims == {"benchmark-data": "/data"}, task.name
            assert task.labels == {}, task.name
            continue
        assert task.claims == {"benchmark-data": "/data", "vineyard": "/var/run/vineyard"}
        assert task.labels == FLUID_LABELS, task.name


def test_nas_pipeline_touches_no_vineyard():
    for task in tasks(load_kfp(COMPILED["nas"]), RUN_ID):
        assert task.claims == {"benchmark-data": "/data"}, task.name
        assert task.labels == {}, task.name
        assert "vineyard" not in task.args, task.name


# --- parameters, run id, output, exit handler ---------------------------------------------------


def test_parameters_are_the_multiplier_partitions_and_one_image_per_step_image(kfp, argo):
    inputs = kfp.component_spec.inputs
    argo_defaults = {p["name"]: p.get("value") for p in argo["spec"]["arguments"]["parameters"]}
    for name in ("data_multiplier", "partitions"):
        assert inputs[name].type == "Integer"
        assert inputs[name].default == int(argo_defaults[name])
    expected_images = {
        name.replace("-", "_") + "_image": f"{argo_defaults['registry']}/{name}:" + KFP_DEFAULT_TAG
        for name in STEP_IMAGES
    }
    assert {k: v.default for k, v in inputs.items() if k.endswith("_image")} == expected_images
    assert set(inputs) == {"data_multiplier", "partitions", *expected_images}
    assert all(inputs[k].type == "String" for k in expected_images)


def test_parameters_reach_the_pods(kfp):
    overrides = {"data_multiplier": 7, "train_data_image": "registry.example/train-data:v2"}
    rendered = by_name(tasks(kfp, RUN_ID, overrides))
    args = rendered["preprocess-data"].args
    assert args[args.index("--multiplier") + 1] == "7"
    assert rendered["train-data"].image == "registry.example/train-data:v2"
    assert rendered["test-data"].image == by_name(tasks(kfp, RUN_ID))["test-data"].image


def test_run_id_is_the_kfp_run_id_as_a_whole_input(kfp):
    """The driver substitutes `{{$.pipeline_job_uuid}}` only as a task's whole input; every task
    but partition-list (which knows no run) gets it so, and two runs' pods name two different
    runs."""
    spec = raw_spec(kfp)
    run_id_inputs, container_tasks = [], 0
    for comp_dag in [spec["root"]["dag"]] + [
        c["dag"] for c in spec["components"].values() if "dag" in c
    ]:
        for task in comp_dag["tasks"].values():
            given = task.get("inputs", {}).get("parameters", {})
            container_tasks += "dag" not in spec["components"][task["componentRef"]["name"]]
            if "run_id" in given:
                run_id_inputs.append(given["run_id"])
    assert len(run_id_inputs) == container_tasks - 1
    assert all(
        v == {"runtimeValue": {"constant": dsl.PIPELINE_JOB_ID_PLACEHOLDER}} for v in run_id_inputs
    )
    first, second = tasks(kfp, "run-one"), tasks(kfp, "run-two")
    first, second = [t for t in first if t.name != "partition-list"], second[1:]
    for a, b in zip(first, second, strict=True):
        assert any("run-one" in x for x in a.args) and not any("run-two" in x for x in a.args)
        assert [x.replace("run-one", "run-two") for x in a.args] == b.args


def test_mse_is_the_pipeline_output_read_where_evaluate_writes_it(kfp, argo):
    outputs = kfp.component_spec.outputs
    assert list(outputs) == ["mse"] and outputs["mse"].type == "Float"
    spec = raw_spec(kfp)
    assert spec["root"]["dag"]["outputs"]["parameters"]["mse"] == {
        "valueFromParameter": {"producerSubtask": "read-mse", "outputParameterKey": "mse"}
    }
    read = by_name(tasks(kfp, RUN_ID))["read-mse"]
    test_data = templates(argo)["test-data"]
    (metrics,) = test_data["outputs"]["parameters"]
    argo_path = metrics["valueFrom"]["path"].replace("{{workflow.name}}", RUN_ID)
    assert read.args == [argo_path, read.outputs["mse"]]
    # The same image as evaluate, which wrote the file.
    assert read.image == by_name(tasks(kfp, RUN_ID))["test-data"].image


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_cleanup_is_the_exit_handler_of_the_steps(kfp, partitions):
    ran = tasks(kfp, RUN_ID, {"partitions": partitions})
    (cleanup,) = [t for t in ran if t.name == "cleanup"]
    assert cleanup.group == "root"
    assert cleanup.trigger == "ALL_UPSTREAM_TASKS_COMPLETED"  # also after a failure
    (handler,) = cleanup.dependencies
    assert handler in raw_spec(kfp)["root"]["dag"]["tasks"]
    inside = groups(kfp)

    def within(group: str) -> set[str]:
        return {n for child in inside.get(group, []) for n in {child} | within(child)}

    assert {t.name for t in ran} - {"cleanup", "read-mse"} <= within(handler)
    order = [t.name for t in ran]
    last = "test-merge" if partitions > 1 else "test-data"
    assert order.index("cleanup") > order.index(last)
    assert order.index("read-mse") > order.index(last)


def test_the_merges_run_only_at_several_partitions(kfp):
    """The merges and the partitions' evaluate sit under `partitions > 1`, the whole run's
    evaluate under `partitions == 1`; preprocess and train under neither, in a loop over
    partition-list's numbers."""
    spec = raw_spec(kfp)
    conditions = {}
    for comp in spec["components"].values():
        for name, task in comp.get("dag", {}).get("tasks", {}).items():
            if "condition" in task.get("triggerPolicy", {}):
                conditions[name] = (task["triggerPolicy"]["condition"], groups(kfp)[name])
    found = {}
    for condition, inside in conditions.values():
        names = set(inside) | {n for g in inside if g in groups(kfp) for n in groups(kfp)[g]}
        found[condition] = {n.rstrip("-0123456789") for n in names if not n.startswith("for-loop")}
    assert found == {
        "int(inputs.parameter_values['pipelinechannel--partitions']) > 1":
            {"train-merge", "test-data-part", "test-merge", "partition-node"},
        "int(inputs.parameter_values['pipelinechannel--partitions']) == 1":
            {"test-data", "partition-node"},
    }  # fmt: skip
    loops = [t for c in spec["components"].values() for t in c.get("dag", {}).get("tasks", {})
             .values() if "parameterIterator" in t]  # fmt: skip
    assert len(loops) == 2
    for loop in loops:
        items = loop["parameterIterator"]["items"]["inputParameter"]
        assert loop["inputs"]["parameters"][items] in (
            {"taskOutputParameter": {"producerTask": "partition-list",
                                     "outputParameterKey": "numbers"}},
            {"componentInputParameter": items},
        )  # fmt: skip
    assert condition_holds("int(inputs.parameter_values['p']) > 1", {"p": 2}, "t")
    assert not condition_holds("int(inputs.parameter_values['p']) > 1", {"p": 1}, "t")


def test_no_task_is_cached(kfp):
    """A cached task would be skipped and leave the run without its intermediates."""
    assert not any(t.caching for t in tasks(kfp, RUN_ID))


def test_the_model_rejects_what_kfp_would_not_render():
    with pytest.raises(ModelError, match="exactly one parameter"):
        _image(
            "{{$.inputs.parameters['registry']}}/train-data:{{$.inputs.parameters['tag']}}",
            {"registry": "r", "tag": "t"},
            "task t",
        )
    with pytest.raises(ModelError, match="unsupported placeholder"):
        _render("/data/runs/{{$.pipeline_job_uuid}}", {}, {}, "task t")
    with pytest.raises(ModelError, match="unknown parameter"):
        _render("{{$.inputs.parameters['nope']}}", {}, {}, "task t")


def test_the_model_names_a_claim_as_the_driver_does():
    """The driver takes the claim's name from pvcNameParameter when it is set, ignoring the
    deprecated `constant` beside it (backend/src/v2/driver/k8s.go, makeVolumeMountPatch), so a
    model reading `constant` would check a name no pod mounts."""
    config = k8s_pb2.KubernetesExecutorConfig()
    mount = config.pvc_mount.add(constant="stale", mount_path="/data")
    mount.pvc_name_parameter.runtime_value.constant.string_value = "benchmark-data"
    assert claims(config, {}, "task t") == {"benchmark-data": "/data"}
    by_input = k8s_pb2.KubernetesExecutorConfig()
    by_input.pvc_mount.add(mount_path="/data").pvc_name_parameter.component_input_parameter = "c"
    assert claims(by_input, {"c": "mine"}, "task t") == {"mine": "/data"}
    with pytest.raises(ModelError, match="without a claim name"):
        claims(k8s_pb2.KubernetesExecutorConfig(pvc_mount=[{"constant": "x"}]), {}, "task t")


# --- the command lines, run -------------------------------------------------------------------


def close(a, b):
    return abs(a - b) / abs(b) < 1e-9


# The node the local run's pods are on, as the downward API would give it.
LOCAL_NODE = "local-node"


def run_locally(kfp, run_id: str, data_dir: Path, outputs_dir: Path, env: dict,
                partitions: int = 1) -> dict:  # fmt: skip
    """Each container task's command line as a process, in an order KFP could run them (cleanup
    before read-mse: the order that would break if cleanup removed the mse file), each output
    read back as the launcher reads it. The claim paths are this data dir, as a volume mount
    would make them; the console scripts are this venv's; a field path env is this node."""
    affinities = []

    def run_task(task):
        command = [BIN / task.command[0]] if task.command[0] != "python3" else [sys.executable]
        argv = [str(x) for x in command] + task.command[1:] + task.args
        argv = [a.replace("/tmp/kfp/outputs", str(outputs_dir)) for a in argv]
        argv = [a.replace("/data", str(data_dir), 1) if a.startswith("/data") else a for a in argv]
        # The launcher makes the output parameters' folders (launcher_v2.go, prepareOutputFolders)
        outputs_dir.mkdir(exist_ok=True)
        fields = {e.name: LOCAL_NODE for e in task.kubernetes.field_path_as_env}
        done = subprocess.run(argv, capture_output=True, text=True, env={**env, **fields},
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, f"{task.name}: {done.stderr}"
        if task.node_affinity is not None:
            affinities.append(task.node_affinity)
        # A list or struct output is JSON, a number its text (launcher_v2.go, getOutputParameters)
        return {name: json.loads((outputs_dir / name).read_text()) for name in task.outputs}

    ran = run(kfp, run_id, run_task, {"data_multiplier": 1, "partitions": partitions})
    assert ran[-1].name == "read-mse", [t.name for t in ran]
    return {"run_id": run_id, "mse_text": (outputs_dir / "mse").read_text(),
            "affinities": affinities, "ran": ran}  # fmt: skip


@pytest.mark.parametrize("partitions", PARTITIONS)
@pytest.mark.parametrize("variant_name", VARIANTS)
def test_compiled_command_lines_give_the_seed_mse(
    variant_name, partitions, data_dir, raw_data_dir, vineyard_socket, tmp_path
):
    env = {**os.environ, "VINEYARD_IPC_SOCKET": vineyard_socket}  # Fluid's mount, here
    run_id = f"kfp-{variant_name}-p{partitions}"
    result = run_locally(
        load_kfp(COMPILED[variant_name]), run_id, data_dir, tmp_path / "outputs", env, partitions
    )
    # As the launcher reads a NUMBER_DOUBLE output: strconv.ParseFloat(strings.TrimSpace(text)).
    mse = float(result["mse_text"].strip())
    metrics = json.loads((data_dir / "runs" / result["run_id"] / "metrics.json").read_text())
    assert mse == metrics["mse"]
    assert close(mse, seed_mse(raw_path(raw_data_dir, 1)))
    # Each partition's train and evaluate were sent to the node its preprocess recorded.
    steps = [t for t in result["ran"] if t.name in ("train-data", "test-data", "test-data-part")]
    assert len(result["affinities"]) == len(steps) == 2 * partitions
    nodes = {json.dumps(a, sort_keys=True) for a in result["affinities"]}
    assert [json.loads(n)["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchFields"][0]["values"] for n in nodes] == [[LOCAL_NODE]]  # fmt: skip
    # The exit handler ran: the run's intermediates are gone (a second cleanup finds nothing in
    # either store), its model stays.
    assert (data_dir / "runs" / result["run_id"] / "model.json").exists()
    again = run_cli("cleanup", "--run-id", result["run_id"], "--data-dir", data_dir, env=env)
    deleted = json.loads(again.stdout)["deleted"]
    assert set(deleted) == {"nas", "vineyard"} and not any(deleted.values()), deleted


def test_read_mse_runs_in_the_test_data_image(docker_client, tmp_path):
    """The one command line the Argo workflows do not run: `python3 -c` in the test-data image, as
    uid 1000, on the mse file as evaluate writes it."""
    kfp = load_kfp(COMPILED["nas"])
    read = by_name(tasks(kfp, "run-x", {"test_data_image": image("test-data")}))["read-mse"]
    data, outputs = tmp_path / "data", tmp_path / "outputs"
    (data / "runs" / "run-x").mkdir(parents=True)
    outputs.mkdir(mode=0o777)
    outputs.chmod(0o777)
    (data / "runs" / "run-x" / "mse").write_text(repr(0.5243))
    docker_client.containers.run(
        read.image,
        entrypoint=read.command,
        command=read.args,
        user="1000:1000",
        volumes={
            str(data): {"bind": "/data", "mode": "ro"},
            str(outputs): {"bind": "/tmp/kfp/outputs", "mode": "rw"},
        },
        network_mode="none",
        remove=True,
    )
    assert float((outputs / "mse").read_text().strip()) == 0.5243
