"""What a schema cannot see: references resolve, the DAG is a DAG, each container's command line is
one its step accepts, the images are ones we build, volumes agree with deploy/ and with core, and
every pod meets Pod Security "restricted".
"""

import copy
import importlib
import re
import shutil
import subprocess
from importlib.metadata import entry_points

import pytest
from argo_model import (
    DEPLOY,
    EXPR_TASK_REF,
    ROOT,
    TAG,
    WORKFLOWS,
    ModelError,
    ancestors,
    dag_template,
    load,
    load_all,
    pods,
    sample_name,
    task_order,
    templates,
)

VARIANTS = sorted(WORKFLOWS)
DATA_MOUNT = "/data"


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


def test_dag_outputs_name_real_task_outputs(wf):
    dag = dag_template(wf)
    tasks = {t["name"]: t for t in dag["dag"]["tasks"]}
    by_name = templates(wf)
    expressions = [
        p["valueFrom"]["expression"]
        for p in dag.get("outputs", {}).get("parameters", [])
        if "expression" in p.get("valueFrom", {})
    ]
    assert expressions, "the DAG exposes no output computed from its tasks (the MSE)"
    for expression in expressions:
        refs = EXPR_TASK_REF.findall(expression)
        assert refs, f"no task output referenced in {expression!r}"
        for quoted, dotted, parameter in refs:
            task = quoted or dotted
            assert task in tasks, f"{expression!r}: no task {task}"
            assert parameter in _outputs_of(by_name[tasks[task]["template"]]), expression


def test_mse_is_a_global_output(wf):
    outputs = dag_template(wf)["outputs"]["parameters"]
    assert [p.get("globalName") for p in outputs if p["name"] == "mse"] == ["mse"]


def test_model_rejects_an_unresolved_reference(wf):
    """The rendering the other tests rely on must fail on a dangling reference."""
    broken = copy.deepcopy(wf)
    broken["spec"]["templates"][1]["container"]["args"].append("{{workflow.parameters.nope}}")
    with pytest.raises(ModelError, match="nope"):
        pods(broken)


# --- DAG ------------------------------------------------------------------------------------


def test_dag_is_preprocess_then_train_then_test(wf):
    assert [t["name"] for t in task_order(wf)] == ["preprocess-data", "train-data", "test-data"]
    deps = {t["name"]: t.get("dependencies", []) for t in dag_template(wf)["dag"]["tasks"]}
    assert deps == {
        "preprocess-data": [],
        "train-data": ["preprocess-data"],
        "test-data": ["train-data"],
    }


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
    module = importlib.import_module(script.value.split(":")[0])
    return module.build_parser()


def test_each_container_command_line_parses(variant, wf):
    from shmpipe_core.dataset import check_multiplier, check_run_id

    name = sample_name(wf)
    check_run_id(name)  # a generated workflow name is a valid run id
    expected_store = variant
    for pod in pods(wf, name):
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


def test_test_step_reads_metrics_where_evaluate_writes_them(wf):
    from shmpipe_core.dataset import run_dir

    (test_pod,) = [p for p in pods(wf) if p.task == "test-data"]
    (metrics,) = test_pod.template["outputs"]["parameters"]
    expected = run_dir(DATA_MOUNT, sample_name(wf)) / "metrics.json"
    assert metrics["valueFrom"]["path"] == str(expected)


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
    from shmpipe_core.vineyard_connect import FLUID_CONFIG_PATH

    (dataset,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "Dataset"]
    (runtime,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "VineyardRuntime"]
    # Fluid binds a Dataset to the runtime of the same name and creates a claim of that name.
    assert dataset["metadata"]["name"] == runtime["metadata"]["name"]
    wf = load(WORKFLOWS["vineyard"])
    for pod in pods(wf):
        assert _claims(pod).get(dataset["metadata"]["name"]) == str(FLUID_CONFIG_PATH.parent), (
            pod.task
        )
        assert pod.labels.get("fuse.serverful.fluid.io/inject") == "true", pod.task


def test_nas_workflow_touches_no_vineyard():
    wf = load(WORKFLOWS["nas"])
    for pod in pods(wf):
        assert set(_claims(pod)) == {"benchmark-data"}, pod.task
        assert not any(k.startswith("fuse.") for k in pod.labels), pod.task


def test_claims_and_objects_share_a_namespace_and_account(wf):
    """Claims are namespaced: the workflow (submitted to the default namespace) sees them only if
    the claim, the Dataset and the service account live there too."""
    objects = [
        d
        for name in ("nas.yaml", "vineyard.yaml", "rbac.yaml", "prepare-data-job.yaml")
        for d in load_all(DEPLOY / name)
        if d["kind"] != "PersistentVolume"
    ]
    assert {d["metadata"].get("namespace") for d in objects} == {"default"}
    (account,) = [d for d in load_all(DEPLOY / "rbac.yaml") if d["kind"] == "ServiceAccount"]
    assert wf["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_the_two_workflows_differ_only_where_the_store_differs():
    nas, vineyard = load(WORKFLOWS["nas"]), load(WORKFLOWS["vineyard"])
    # Undo exactly the vineyard additions; what is left must be the NAS workflow.
    spec = vineyard["spec"]
    assert spec.pop("podMetadata") == {"labels": {"fuse.serverful.fluid.io/inject": "true"}}
    (claim,) = [v for v in spec["volumes"] if v["name"] == "vineyard"]
    spec["volumes"].remove(claim)
    for template in spec["templates"]:
        container = template.get("container")
        if container:
            mounts = container["volumeMounts"]
            assert {"name": "vineyard", "mountPath": "/var/run/vineyard"} in mounts
            mounts.remove({"name": "vineyard", "mountPath": "/var/run/vineyard"})
            args = container["args"]
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


# --- Pod Security "restricted" --------------------------------------------------------------

# https://kubernetes.io/docs/concepts/security/pod-security-standards/ (restricted)
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip


def check_restricted(pod_sc: dict, containers: list[dict], volumes: list[dict], pod: dict):
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"{key} is set")
    for volume in volumes:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} is {sorted(kinds)}")
    for c in containers:
        sc = c.get("securityContext", {})
        name = c.get("name", c["image"])

        def effective(key, sc=sc):
            return sc.get(key, pod_sc.get(key))

        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        if effective("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if effective("runAsUser") != 1000:
            problems.append(f"{name}: runAsUser is not 1000 (the images' user)")
        if (effective("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: seccomp profile is not RuntimeDefault")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            missing = {"cpu", "memory"} - set(resources.get(kind, {}))
            if missing:
                problems.append(f"{name}: no {kind} for {sorted(missing)}")
    return problems


def test_every_workflow_pod_is_restricted(wf):
    problems = []
    for pod in pods(wf):
        problems += [
            f"{pod.task}: {p}"
            for p in check_restricted(pod.security_context, [pod.container], pod.volumes, {})
        ]
        if pod.service_account != "pipeline-runner":
            problems.append(f"{pod.task}: service account {pod.service_account}")
    assert not problems, "\n".join(problems)


def test_prepare_data_job_pod_is_restricted():
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    spec = job["spec"]["template"]["spec"]
    problems = check_restricted(
        spec.get("securityContext", {}), spec["containers"], spec.get("volumes", []), spec
    )
    assert not problems, "\n".join(problems)
    assert spec["restartPolicy"] == "Never"  # a Job that finishes, not a pod that sleeps


def test_restricted_check_catches_a_violation(wf):
    (pod, *_) = pods(wf)
    container = copy.deepcopy(pod.container)
    container["securityContext"]["allowPrivilegeEscalation"] = True
    del container["resources"]["limits"]
    problems = check_restricted(pod.security_context, [container], pod.volumes, {})
    assert len(problems) == 2, problems
