"""What a schema cannot see: references resolve, the DAG is a DAG, templateDefaults merge as Argo
merges them, the MSE reaches the workflow's outputs, each container's command line is one its step
accepts, the images are ones we build, volumes agree with deploy/ and with core, every vineyard pod
is placed next to a vineyard worker, and every container of every pod (Argo's init and wait
included) meets Pod Security "restricted".
"""

import ast
import copy
import importlib
import inspect
import json
import re
import shutil
import subprocess
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from argo_model import (
    DEPLOY,
    ROOT,
    TAG,
    WORKFLOWS,
    ModelError,
    aggregated,
    ancestors,
    dag_template,
    executor_settings,
    exit_pod,
    load,
    load_all,
    output_parameters,
    pods,
    resolved_templates,
    run_dag,
    sample_file,
    sample_name,
    sample_overrides,
    strategic_merge,
    task_order,
    templates,
    with_template_defaults,
    workflow_outputs,
)
from fluid_model import (
    NODES,
    deployed_runtime,
    feasible_nodes,
    required_terms,
    sched_label,
    schedule,
    webhook_affinity,
)
from pod_security import restricted_violations
from shmpipe_core.step_contract import NODE_ENV

VARIANTS = sorted(WORKFLOWS)
DATA_MOUNT = "/data"
# Each workflow is checked at one partition (today's run) and at several.
PARTITIONS = ["1", "2"]


@pytest.fixture(params=VARIANTS)
def variant(request):
    return request.param


@pytest.fixture
def wf(variant):
    return load(WORKFLOWS[variant])


# --- references -----------------------------------------------------------------------------


def _strings(node, path=""):
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, list):
        for i, x in enumerate(node):
            yield from _strings(x, f"{path}[{i}]")
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, f"{path}.{k}")


def _outputs_of(template: dict) -> set[str]:
    return {p["name"] for p in template.get("outputs", {}).get("parameters", [])}


def test_every_reference_resolves(wf):
    """Each {{...}} tag names something that exists where it is used: a declared workflow
    parameter, the workflow's name, an input of the enclosing template, or an output of a task the
    referring task depends on (directly or not)."""
    spec = wf["spec"]
    globals_ = {"workflow.name"} | {
        f"workflow.parameters.{p['name']}" for p in spec["arguments"]["parameters"]
    }
    by_name = templates(wf)
    problems = []
    outside = {k: v for k, v in spec.items() if k != "templates"}
    for path, text in _strings({"metadata": wf["metadata"], "spec": outside}):
        for tag in TAG.findall(text):
            if tag not in globals_:
                problems.append(f"{path}: {{{{{tag}}}}}")
    for template in spec["templates"]:
        local = globals_ | {
            f"inputs.parameters.{p['name']}"
            for p in template.get("inputs", {}).get("parameters", [])
        }
        if "dag" in template:
            for task in template["dag"]["tasks"]:
                visible = set(local)
                # A loop's tasks see `{{item}}`, a withParam loop's `{{item.<key>}}` too (Argo's
                # validation cannot know the keys: workflow/validate/validate.go, addItemsToScope);
                # test_placement_records_carry_the_keys_the_loops_read holds the keys.
                if "withSequence" in task or "withParam" in task:
                    visible.add("item")
                if "withParam" in task:
                    visible |= {"item.partition", "item.node"}
                for dep in ancestors(wf, task["name"]):
                    for out in _outputs_of(
                        by_name[
                            next(
                                t["template"] for t in template["dag"]["tasks"] if t["name"] == dep
                            )
                        ]
                    ):
                        visible.add(f"tasks.{dep}.outputs.parameters.{out}")
                for path, text in _strings(task, f"task {task['name']}"):
                    problems += [
                        f"{path}: {{{{{t}}}}}" for t in TAG.findall(text) if t not in visible
                    ]
            rest = {k: v for k, v in template.items() if k != "dag"}
        else:
            rest = template
        for path, text in _strings(rest, f"template {template['name']}"):
            problems += [f"{path}: {{{{{t}}}}}" for t in TAG.findall(text) if t not in local]
    assert not problems, "unresolved references:\n" + "\n".join(problems)


def test_the_dag_declares_no_global_output(wf):
    """Argo never promotes a DAG template's own outputs to the workflow's (dag.go, executeDAG), so
    a `globalName` there would silently print nothing in `argo get`."""
    for template in wf["spec"]["templates"]:
        if "dag" in template:
            outputs = template.get("outputs", {}).get("parameters", [])
            assert not [p for p in outputs if p.get("globalName")], template["name"]


def _mse_output(wf, partitions="1"):
    """The one pod of a run that has a global output, and that output."""
    overrides = sample_overrides(partitions=partitions)
    (test_pod,) = [
        p for p in pods(wf, overrides=overrides)
        if any(o.get("globalName") for o in p.template.get("outputs", {}).get("parameters", []))
    ]  # fmt: skip
    (mse,) = [p for p in test_pod.template["outputs"]["parameters"] if p.get("globalName")]
    assert mse["globalName"] == "mse"
    return test_pod, mse


@pytest.mark.parametrize(("partitions", "task"), [("1", "test-data"), ("2", "test-merge")])
def test_mse_is_one_pods_global_output_read_where_evaluate_writes_it(wf, partitions, task):
    """Exactly one pod promotes the MSE: at one partition the evaluate pod, at several the
    evaluate merge (each run's other evaluate pods have no output), from the file the run
    layout names."""
    from shmpipe_core.layout import RunLayout

    test_pod, mse = _mse_output(wf, partitions)
    assert test_pod.task == task
    assert mse["valueFrom"] == {"path": str(RunLayout(DATA_MOUNT, sample_name(wf)).mse)}
    # On the data volume: the root filesystem is read-only.
    assert any(m["mountPath"] == DATA_MOUNT for m in test_pod.container["volumeMounts"])


def test_the_placement_output_is_read_where_preprocess_writes_its_record(wf):
    from shmpipe_core.layout import RunLayout

    layout = RunLayout(DATA_MOUNT, sample_name(wf))
    pre = [p for p in pods(wf, overrides=sample_overrides(partitions="3"))
           if p.task == "preprocess-data"]  # fmt: skip
    for k, pod in enumerate(pre):
        (placement,) = pod.template["outputs"]["parameters"]
        assert placement["valueFrom"] == {"path": str(layout.part("preprocess", k))}
        # The node is what preprocess records: NODE_NAME, from the pod's spec.nodeName.
        assert {"name": NODE_ENV, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in (
            pod.container["env"]
        )


def test_workflow_outputs_take_pod_outputs_only(wf):
    """The model's rule, shown on the shape these workflows had before: the MSE as the DAG's
    output with a globalName, computed from the test pod's metrics. Nothing reaches the
    workflow's outputs; the test pod's own globalName output does."""
    test_pod, _ = _mse_output(wf)
    old = copy.deepcopy(test_pod)
    old.template["outputs"] = {"parameters": [
        {"name": "metrics", "valueFrom": {"path": f"/data/runs/{sample_name(wf)}/metrics.json"}}
    ]}  # fmt: skip
    files = {"metrics.json": '{"mse": 0.25}\n', "mse": "0.25\n"}

    def read(pod, path):
        return files[path.rsplit("/", 1)[1]]

    assert workflow_outputs({"test-data": output_parameters(old, read)}) == {}
    # One trailing newline is stripped, as Argo's SaveParameters does; the text is kept as it is.
    assert workflow_outputs({"test-data": output_parameters(test_pod, read)}) == {"mse": "0.25"}


def test_model_rejects_an_unresolved_reference(wf):
    """The rendering the other tests rely on must fail on a dangling reference."""
    broken = copy.deepcopy(wf)
    broken["spec"]["templates"][1]["container"]["args"].append("{{workflow.parameters.nope}}")
    with pytest.raises(ModelError, match="nope"):
        pods(broken)


# --- DAG ------------------------------------------------------------------------------------


def test_dag_is_preprocess_then_train_then_test(wf):
    deps = {t["name"]: t.get("dependencies", []) for t in dag_template(wf)["dag"]["tasks"]}
    assert deps == {
        "preprocess-data": [],
        "train-data": ["preprocess-data"],
        "train-merge": ["train-data"],
        "test-data": ["train-merge"],
        "test-data-part": ["train-merge"],
        "test-merge": ["test-data-part"],
    }


@pytest.mark.parametrize("partitions", ["1", "2", "5"])
def test_each_partition_runs_each_step_once_and_merges_only_at_several(wf, partitions):
    """P pods of each step, one per partition, in the partitions' order; the merges and the
    partitions' evaluate only at P>1, the whole-run evaluate only at P=1: a task skipped by
    `when` lets what depends on it run (argo_model, _dependencies_met)."""
    p = int(partitions)
    nodes = run_dag(wf, lambda pod: output_parameters(pod, sample_file),
                    overrides=sample_overrides(partitions=partitions))  # fmt: skip
    ran = {name: [c.pod for c in node.children or [node] if c.pod] for name, node in nodes.items()}
    for task in ("preprocess-data", "train-data"):
        assert [_arg(pod, "--partition") for pod in ran[task]] == [str(k) for k in range(p)]
        assert {_arg(pod, "--partitions") for pod in ran[task]} == {partitions}
    evaluate = "test-data-part" if p > 1 else "test-data"
    assert [_arg(pod, "--partition") for pod in ran[evaluate]] == [str(k) for k in range(p)]
    merges = ["train-merge", "test-merge"]
    assert {t: len(ran[t]) for t in [*merges, "test-data", "test-data-part"]} == {
        "train-merge": p > 1, "test-merge": p > 1, "test-data": p if p == 1 else 0,
        "test-data-part": p if p > 1 else 0,
    }  # fmt: skip
    skipped = {name for name, node in nodes.items() if node.phase == "Skipped"}
    assert skipped == ({"test-data"} if p > 1 else {*merges, "test-data-part"})
    for pod in (pod for task in merges for pod in ran[task]):
        assert pod.container["args"][-1] == "--merge" and _arg(pod, "--partitions") == partitions


def _arg(pod, flag: str) -> str | None:
    args = pod.container["args"]
    return args[args.index(flag) + 1] if flag in args else None


def test_placement_records_carry_what_the_loops_read(wf, data_dir):
    """preprocess, run as the pod would run it (NODE_NAME set), writes where the workflow reads
    `placement` a JSON object whose `partition` and `node` the train and evaluate loops take."""
    from tests.support.processes import run_cli

    overrides = sample_overrides(partitions="2", data_multiplier="1")
    (pod,) = [p for p in pods(wf, overrides=overrides)
              if p.task == "preprocess-data" and _arg(p, "--partition") == "1"]  # fmt: skip
    args = [a.replace(DATA_MOUNT, str(data_dir), 1) if a == DATA_MOUNT else a
            for a in pod.container["args"]]  # fmt: skip
    args[args.index("--sink") + 1] = "nas"  # the record is the same with either store
    run_cli("preprocess", *args, env={NODE_ENV: "kind-worker3"})
    (placement,) = pod.template["outputs"]["parameters"]
    path = placement["valueFrom"]["path"].replace(DATA_MOUNT, str(data_dir), 1)
    (item,) = json.loads(aggregated([Path(path).read_text().removesuffix("\n")]))
    assert (item["partition"], item["node"]) == (1, "kind-worker3")


def test_the_model_runs_only_what_it_knows(wf):
    """Loops it does not model, `depends`, and a `when` other than a comparison of integers."""
    for key, value in [("withItems", ["0"]), ("depends", "preprocess-data"),
                       ("continueOn", {"failed": True})]:  # fmt: skip
        broken = copy.deepcopy(wf)
        dag_template(broken)["dag"]["tasks"][1][key] = value
        with pytest.raises(ModelError, match=key):
            pods(broken)
    broken = copy.deepcopy(wf)
    dag_template(broken)["dag"]["tasks"][2]["when"] = "{{workflow.parameters.partitions}} > one"
    with pytest.raises(ModelError, match="comparison of two integers"):
        pods(broken)


def test_a_loops_outputs_aggregate_as_argo_aggregates_them():
    """JSON objects become a list of objects, anything else a list of the texts."""
    assert json.loads(aggregated(['{"a": 1}', '{"a": 2}'])) == [{"a": 1}, {"a": 2}]
    assert json.loads(aggregated(['{"a": 1}', "2"])) == ['{"a": 1}', "2"]
    assert json.loads(aggregated(["x", "y"])) == ["x", "y"]


def test_a_cycle_is_detected(wf):
    cyclic = copy.deepcopy(wf)
    dag_template(cyclic)["dag"]["tasks"][0]["dependencies"] = ["test-data"]
    with pytest.raises(ModelError, match="cycle"):
        task_order(cyclic)


def test_every_template_is_used(wf):
    spec = wf["spec"]
    used = {spec["entrypoint"], spec["onExit"]} | {
        t["template"] for t in dag_template(wf)["dag"]["tasks"]
    }
    assert used == set(templates(wf))


# --- command lines --------------------------------------------------------------------------


def _parser_for(command: str):
    """The step's real argument parser, found through the console script the image runs."""
    (script,) = entry_points(group="console_scripts", name=command) or [None]
    assert script is not None, f"no installed console script {command!r}"
    return importlib.import_module(_command_module(script.value)).build_parser()


def _command_module(entry: str) -> str:
    """The command module a console script's entry function hands over to (`launch("...")` in
    the entry modules, which import nothing heavy themselves)."""
    module, function = entry.split(":")
    tree = ast.parse(inspect.getsource(importlib.import_module(module)))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "launch":
                    return call.args[0].value
    raise AssertionError(f"{entry} does not launch a command module")


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_each_container_command_line_parses(variant, wf, partitions):
    from shmpipe_core.dataset import check_multiplier, check_run_id

    name = sample_name(wf)
    check_run_id(name)  # a generated workflow name is a valid run id
    expected_store = variant
    for pod in pods(wf, name, sample_overrides(partitions=partitions)):
        container = pod.container
        (command,) = container["command"]
        parser = _parser_for(command)
        try:
            args = parser.parse_args(container["args"])
        except SystemExit:
            pytest.fail(f"{pod.task}: `{command} {' '.join(container['args'])}` does not parse")
        assert str(args.data_dir) == DATA_MOUNT, pod.task
        assert args.run_id == name, pod.task
        for flag in ("sink", "source"):
            if hasattr(args, flag):
                assert getattr(args, flag) == expected_store, f"{pod.task} --{flag}"
        if hasattr(args, "multiplier"):
            check_multiplier(args.multiplier)


def test_steps_run_in_the_seed_order_of_commands(wf):
    commands = [p.container["command"] for p in pods(wf)]
    assert commands == [["preprocess"], ["train"], ["evaluate"], ["cleanup"]]
    commands = [p.container["command"][0] for p in pods(wf, overrides=sample_overrides(
        partitions="2"))]  # fmt: skip
    assert commands == ["preprocess"] * 2 + ["train"] * 3 + ["evaluate"] * 3 + ["cleanup"]


# --- images ---------------------------------------------------------------------------------


def _images_make_builds(registry: str, tag: str) -> set[str]:
    """The image references `make images` would build, read from make's dry run, so the test
    follows the Makefile instead of a copy of its list."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "images", f"REGISTRY={registry}", f"TAG={tag}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"`make -n images` failed:\n{result.stderr}"
    pattern = re.compile(rf"(?:-t|--tag)[ =]['\"]?({re.escape(registry)}/[a-z0-9._-]+:{tag})")
    return set(pattern.findall(result.stdout))


def test_every_image_is_one_make_images_builds(wf):
    registry, tag = "example.test/shmpipe", "t1"
    built = _images_make_builds(registry, tag)
    used = {p.container["image"] for p in pods(wf, overrides={"registry": registry, "tag": tag})}
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    job_image = job["spec"]["template"]["spec"]["containers"][0]["image"]
    used.add(job_image.replace("test-registry/", f"{registry}/").replace(":latest", f":{tag}"))
    assert used <= built, f"not built by `make images`: {sorted(used - built)}"


# --- volumes --------------------------------------------------------------------------------


def _claims(pod) -> dict[str, str]:
    """claim name -> mount path in this pod."""
    by_volume = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod.volumes}
    return {by_volume[m["name"]]: m["mountPath"] for m in pod.container.get("volumeMounts", [])}


def test_every_pod_mounts_the_nas_claim_at_data(wf):
    nas_pvcs = [d for d in load_all(DEPLOY / "nas.yaml") if d["kind"] == "PersistentVolumeClaim"]
    (nas_claim,) = [d["metadata"]["name"] for d in nas_pvcs]
    assert nas_claim == "benchmark-data"
    for pod in pods(wf):
        assert _claims(pod).get(nas_claim) == DATA_MOUNT, pod.task


def test_vineyard_claim_is_the_fluid_dataset_at_cores_config_path():
    from shmpipe_core.vineyard.config import FLUID_CONFIG_PATH

    (dataset,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "Dataset"]
    (runtime,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "VineyardRuntime"]
    # Fluid binds a Dataset to the runtime of the same name and creates a claim of that name.
    assert dataset["metadata"]["name"] == runtime["metadata"]["name"]
    wf = load(WORKFLOWS["vineyard"])
    for pod in pods(wf):
        assert _claims(pod).get(dataset["metadata"]["name"]) == str(FLUID_CONFIG_PATH.parent), (
            pod.task
        )


def placed_run(wf: dict, partitions: str, runtime) -> list:
    """(pod, node) of a run's pods as fluid_model's webhook and scheduler place them, each
    preprocess recording the node it got, as the step does."""
    placed, result = [], []

    def run(pod):
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.volumes]
        webhook = webhook_affinity(pod.labels, claims, runtime)
        nodes = feasible_nodes(required_terms(pod.affinity, webhook), runtime)
        node = schedule(pod.affinity, webhook, runtime, placed)
        placed.append((node, pod.pod_labels))
        result.append((pod, node, nodes))

        def read(pod, path):
            text = sample_file(pod, path)
            return json.dumps({**json.loads(text), "node": node}) if "/parts/" in path else text

        return output_parameters(pod, read)

    run_dag(wf, run, overrides=sample_overrides(partitions=partitions))
    return result


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_every_vineyard_pod_can_only_land_next_to_a_vineyard_worker(partitions):
    """Whatever node the scheduler picks among those Fluid's webhook and the pod's own affinity
    leave it, that node runs a vineyard worker, so the mount holds a socket: the onExit pod too,
    which must reach vineyard to delete the run's objects."""
    runtime = deployed_runtime()
    assert not all(runtime.has_socket(n) for n in feasible_nodes([], runtime)), (
        "the model has no node without a worker: it could not catch a misplaced pod"
    )
    wf = load(WORKFLOWS["vineyard"])
    for pod, _, nodes in placed_run(wf, partitions, runtime):
        assert pod.labels.get(sched_label(runtime.dataset)) == "required", pod.node
        assert nodes and all(runtime.has_socket(n) for n in nodes), (pod.node, nodes)
    for pod in [exit_pod(wf)]:
        webhook = webhook_affinity(pod.labels, list(_claims(pod)), runtime)
        nodes = feasible_nodes(required_terms(pod.affinity, webhook), runtime)
        assert nodes and all(runtime.has_socket(n) for n in nodes), (pod.node, nodes)


def test_partitions_spread_over_the_workers_and_stay_on_their_node():
    """Two partitions on two workers: each preprocess on its own worker, and the only node its
    train and evaluate may run on is that one (the pod's term, with Fluid's added to it)."""
    runtime = deployed_runtime()
    assert len(runtime.worker_nodes) == 2
    placed = placed_run(load(WORKFLOWS["vineyard"]), "2", runtime)
    where = {pod.node: (node, nodes) for pod, node, nodes in placed}
    pre = [node for pod, node, _ in placed if pod.task == "preprocess-data"]
    assert sorted(pre) == sorted(runtime.worker_nodes)
    for pod, _, nodes in placed:
        partition = _arg(pod, "--partition")
        if pod.task in ("train-data", "test-data-part"):
            assert nodes == [pre[int(partition)]], where
    assert len(placed) == 8


def test_a_partition_pinned_to_a_node_without_a_worker_cannot_run():
    """Fluid's requirement is added to the pod's own node term, not in place of it: a record
    naming a node without a worker leaves the pod no node (Pending), never a node without one."""
    runtime = deployed_runtime()
    (bare,) = [n for n in NODES if not runtime.has_socket(n)]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [bare]}]}]}}}  # fmt: skip
    webhook = webhook_affinity(
        {"fuse.serverful.fluid.io/inject": "true", sched_label(runtime.dataset): "required"},
        [runtime.dataset], runtime,
    )  # fmt: skip
    assert feasible_nodes(required_terms(affinity, {"required": []}), runtime) == [bare]
    assert feasible_nodes(required_terms(affinity, webhook), runtime) == []


def test_nas_workflow_touches_no_vineyard():
    wf = load(WORKFLOWS["nas"])
    for pod in pods(wf):
        assert set(_claims(pod)) == {"benchmark-data"}, pod.task
        assert not any("fluid.io" in k for k in pod.labels), pod.task


def test_the_workflow_runs_as_the_account_deploy_creates(wf):
    (account,) = [d for d in load_all(DEPLOY / "rbac.yaml") if d["kind"] == "ServiceAccount"]
    assert wf["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_the_two_workflows_differ_only_where_the_store_differs():
    nas, vineyard = load(WORKFLOWS["nas"]), load(WORKFLOWS["vineyard"])
    # Undo exactly the vineyard additions; what is left must be the NAS workflow.
    spec = vineyard["spec"]
    runtime = deployed_runtime()
    assert spec.pop("podMetadata") == {
        "labels": {
            "fuse.serverful.fluid.io/inject": "true",
            sched_label(runtime.dataset): "required",
        }
    }
    (claim,) = [v for v in spec["volumes"] if v["name"] == "vineyard"]
    spec["volumes"].remove(claim)
    mounts = spec["templateDefaults"]["container"]["volumeMounts"]
    mounts.remove({"name": "vineyard", "mountPath": "/var/run/vineyard", "readOnly": True})
    for template in spec["templates"]:
        args = template.get("container", {}).get("args", [])
        for flag in ("--sink", "--source"):
            if flag in args:
                i = args.index(flag) + 1
                assert args[i] == "vineyard"
                args[i] = "nas"
    suffix = "-with-vineyard"
    vineyard["metadata"]["generateName"] = vineyard["metadata"]["generateName"].replace(suffix, "")
    spec["entrypoint"] = spec["entrypoint"].removesuffix(suffix)
    spec["templates"][0]["name"] = spec["templates"][0]["name"].removesuffix(suffix)
    assert vineyard == nas


# --- templateDefaults -----------------------------------------------------------------------


def test_strategic_merge_as_argo_applies_template_defaults():
    """The rules the model follows (Kubernetes' strategic merge patch, as Argo calls it in
    mergedTemplateDefaultsInto): maps merge key by key, volumeMounts merge by mountPath and env by
    name, other lists are replaced, the template's value wins, and a default of another template
    type does not apply."""
    wf = {"spec": {"templateDefaults": {
        "container": {
            "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            "volumeMounts": [{"name": "a", "mountPath": "/a"}, {"name": "b", "mountPath": "/b"}],
            "env": [{"name": "X", "value": "1"}],
            "args": ["--default"],
        },
        "dag": {"failFast": False},
    }}}  # fmt: skip
    template = {
        "name": "t",
        "container": {
            "image": "i",
            "resources": {"limits": {"memory": "4Gi"}},
            "volumeMounts": [{"name": "c", "mountPath": "/b", "readOnly": True}],
            "env": [{"name": "Y", "value": "2"}],
            "args": ["--mine"],
        },
    }
    merged = with_template_defaults(wf, template)["container"]
    assert merged["resources"] == {
        "requests": {"cpu": "1"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert merged["volumeMounts"] == [
        {"name": "a", "mountPath": "/a"}, {"name": "c", "mountPath": "/b", "readOnly": True}
    ]  # fmt: skip
    assert merged["env"] == [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]
    assert merged["args"] == ["--mine"]
    assert "dag" not in with_template_defaults(wf, template)
    dag = with_template_defaults(wf, {"name": "d", "dag": {"tasks": []}})
    assert "container" not in dag and dag["dag"] == {"failFast": False, "tasks": []}
    assert strategic_merge({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_every_container_gets_the_shared_settings(wf, partitions):
    """What templateDefaults gives, every container has once merged: the pull policy, the
    security context, requests and a CPU limit; each step keeps its own memory limit."""
    limits = {"preprocess-data": "12Gi", "train-data": "16Gi", "test-data": "4Gi",
              "test-data-part": "4Gi"}  # fmt: skip
    for pod in pods(wf, overrides=sample_overrides(partitions=partitions)):
        c = pod.container
        assert c["imagePullPolicy"] == "IfNotPresent", pod.task
        assert c["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }, pod.task
        if pod.task in limits:
            assert c["resources"] == {
                "requests": {"cpu": "500m", "memory": "1Gi"},
                "limits": {"cpu": "2", "memory": limits[pod.task]},
            }, pod.task


def test_no_template_repeats_a_default(wf):
    """A template that sets a field to the value templateDefaults already gives only repeats it."""
    defaults = wf["spec"]["templateDefaults"]

    def repeats(default, own, path):
        if isinstance(default, dict) and isinstance(own, dict):
            for key in set(default) & set(own):
                yield from repeats(default[key], own[key], f"{path}.{key}")
        elif default == own:
            yield path

    found = [
        p
        for t in wf["spec"]["templates"]
        for kind in set(defaults) & set(t)
        for p in repeats(defaults[kind], t[kind], f"{t['name']}.{kind}")
    ]
    assert not found, f"repeated from templateDefaults: {found}"


# --- Pod Security "restricted" --------------------------------------------------------------


def project_rule_violations(pod_sc: dict, container: dict):
    """What this project asks of its own containers beyond "restricted": the images' uid, a
    read-only root filesystem, CPU and memory requests and limits."""
    problems = []
    sc = container.get("securityContext", {})
    name = container.get("name", container["image"])
    if sc.get("runAsUser", pod_sc.get("runAsUser")) != 1000:
        problems.append(f"{name}: runAsUser is not 1000 (the images' user)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: root filesystem is writable")
    problems += resources_violations(container)
    return problems


def resources_violations(container: dict):
    resources = container.get("resources", {})
    name = container.get("name", container["image"])
    return [
        f"{name}: no {kind} for {sorted(missing)}"
        for kind in ("requests", "limits")
        if (missing := {"cpu", "memory"} - set(resources.get(kind, {})))
    ]


@pytest.mark.parametrize("partitions", PARTITIONS)
def test_every_container_of_every_workflow_pod_is_restricted(wf, partitions):
    """Every container of every pod, Argo's init and wait included, with the executor settings
    deploy/ gives Argo and the pod-level securityContext Argo copies onto the pod."""
    problems = []
    for pod in pods(wf, overrides=sample_overrides(partitions=partitions)):
        assert [c["name"] for c in pod.containers] == ["init", "wait", "main"]
        problems += [
            f"{pod.task}: {p}"
            for p in restricted_violations(
                pod.security_context, pod.containers, pod.pod_volumes, {}
            )
        ]
        problems += [f"{pod.task}: {p}" for c in pod.containers for p in resources_violations(c)]
        problems += [
            f"{pod.task}: {p}" for p in project_rule_violations(pod.security_context, pod.container)
        ]
        if pod.service_account != "pipeline-runner":
            problems.append(f"{pod.task}: service account {pod.service_account}")
    assert not problems, "\n".join(problems)


def test_argos_containers_without_executor_settings_are_not_restricted(wf):
    """With the install's empty executor settings, init and wait carry no securityContext: the
    pods would be rejected by an enforcing namespace."""
    (pod, *_) = pods(wf, executor={})
    problems = restricted_violations(pod.security_context, pod.containers, pod.pod_volumes, {})
    assert any(p.startswith("init: allowPrivilegeEscalation") for p in problems), problems
    assert any(p.startswith("wait: capabilities") for p in problems), problems
    assert executor_settings()["securityContext"]["allowPrivilegeEscalation"] is False


def test_prepare_data_job_pod_is_restricted():
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    spec = job["spec"]["template"]["spec"]
    pod_sc = spec.get("securityContext", {})
    problems = restricted_violations(pod_sc, spec["containers"], spec.get("volumes", []), spec)
    problems += [p for c in spec["containers"] for p in project_rule_violations(pod_sc, c)]
    assert not problems, "\n".join(problems)
    assert spec["restartPolicy"] == "Never"  # a Job that finishes, not a pod that sleeps


def test_restricted_check_catches_a_violation(wf):
    (pod, *_) = pods(wf)
    container = copy.deepcopy(pod.container)
    container["securityContext"]["allowPrivilegeEscalation"] = True
    container["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    problems = restricted_violations(pod.security_context, [container], pod.pod_volumes, {})
    assert len(problems) == 2, problems
    hostpath = [*pod.pod_volumes, {"name": "h", "hostPath": {"path": "/"}}]
    assert restricted_violations(pod.security_context, [pod.container], hostpath, {})
    del container["resources"]["limits"]
    assert len(project_rule_violations(pod.security_context, container)) == 1


def test_the_vineyard_claim_is_mounted_read_only():
    """Fluid publishes the claim as a symlink to a writable directory, so a step could write into
    the fuse's directory on the node unless the mount itself says readOnly."""
    wf = load(WORKFLOWS["vineyard"])
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in wf["spec"]["volumes"]}
    checked = 0
    for name, template in resolved_templates(wf).items():
        for mount in template.get("container", {}).get("volumeMounts", []):
            if claims.get(mount["name"]) == "vineyard":
                assert mount.get("readOnly") is True, name
                checked += 1
    assert checked, "no template mounts the vineyard claim"
