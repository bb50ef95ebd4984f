"""Argo Workflows' behaviour that our two workflows rely on, as a model that checks and runs them
without a cluster. Each rule names the file and function of Argo v3.7.18 it follows (paths are in
the argoproj/argo-workflows repository at that tag).

It covers what these workflows use and nothing more: workflow parameters, templateDefaults, a DAG
entrypoint whose tasks pass parameters to container templates, an onExit container template,
simple `{{...}}` tags, output parameters read from a file, global outputs. Anything else (steps,
scripts, loops, `{{=...}}` tags) raises, so a workflow that grows beyond this model fails the tests
instead of being half-checked.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = {
    "nas": ROOT / "workflows" / "pipeline.yaml",
    "vineyard": ROOT / "workflows" / "pipeline-with-vineyard.yaml",
}
DEPLOY = ROOT / "deploy"
# The Kubernetes minor version of the kind node image (deploy/kind-config.yaml).
K8S_VERSION = "1.31"
# The controller the Makefile installs (ARGO_VERSION); its executor image is argoexec of the same
# version unless the configmap names another (workflow/controller/config.go, executorImage).
ARGO_VERSION = "v3.7.18"

# A name as Argo would generate it from generateName (five random characters).
SAMPLE_SUFFIX = "x7k2p"
# A value for the `tag` parameter, which the workflows leave without a default.
SAMPLE_TAG = "t1"

TAG = re.compile(r"{{(.*?)}}")

# The template types: a templateDefaults field of one of these applies only to templates of that
# type (workflow/controller/operator.go, mergedTemplateDefaultsInto: "Unset any Template-type
# defaults not applicable to the target type").
TEMPLATE_TYPES = (
    "container", "containerSet", "steps", "script", "resource", "dag", "suspend", "data", "http",
    "plugin",
)  # fmt: skip
# Lists that a strategic merge patch merges item by item on a key instead of replacing
# (patchStrategy/patchMergeKey tags: pkg/apis/workflow/v1alpha1/workflow_types.go, Template, and
# Kubernetes' core/v1 Container). Every other list in the patch replaces the default's.
MERGE_KEYS = {
    ("volumes",): "name",
    ("initContainers",): "name",
    ("sidecars",): "name",
    ("tolerations",): "key",
    ("hostAliases",): "ip",
    ("container", "env"): "name",
    ("container", "volumeMounts"): "mountPath",
    ("container", "ports"): "containerPort",
    ("container", "volumeDevices"): "devicePath",
}


class ModelError(Exception):
    """The workflow uses something this model does not understand, or refers to nothing."""


def load(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def load_all(path: Path) -> list[dict]:
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def templates(wf: dict) -> dict[str, dict]:
    return {t["name"]: t for t in wf["spec"]["templates"]}


def sample_name(wf: dict) -> str:
    return wf["metadata"]["generateName"] + SAMPLE_SUFFIX


def sample_overrides(**more) -> dict:
    """`-p` values a submission must give: the image tag has no default."""
    return {"tag": SAMPLE_TAG, **more}


def global_values(wf: dict, name: str | None = None, overrides: dict | None = None) -> dict:
    """Values of the global tags: workflow.name, workflow.parameters.* (defaults or overrides)."""
    values = {"workflow.name": name or sample_name(wf)}
    declared = {
        p["name"]: p.get("value") for p in wf["spec"].get("arguments", {}).get("parameters", [])
    }
    for key in overrides or {}:
        if key not in declared:
            raise ModelError(f"-p {key}: the workflow declares no such parameter")
    declared.update(overrides or {})
    for key, value in declared.items():
        # A submission with a parameter that has no value fails validation
        # (workflow/validate/validate.go, validateArgumentsValues).
        if value is None:
            raise ModelError(f"spec.arguments.{key}.value is required: submit with -p {key}=...")
        values[f"workflow.parameters.{key}"] = str(value)
    return values


def substitute(text: str, values: dict) -> str:
    def one(match: re.Match) -> str:
        tag = match.group(1)
        if tag.startswith("="):
            raise ModelError(f"expression tag {{{{{tag}}}}} is not supported by this model")
        if tag.strip() not in values:
            raise ModelError(f"unresolved reference {{{{{tag}}}}}")
        return values[tag.strip()]

    return TAG.sub(one, text)


def substitute_all(node, values: dict):
    if isinstance(node, str):
        return substitute(node, values)
    if isinstance(node, list):
        return [substitute_all(x, values) for x in node]
    if isinstance(node, dict):
        return {k: substitute_all(v, values) for k, v in node.items()}
    return node


# --- templateDefaults -----------------------------------------------------------------------


def template_type(template: dict) -> str:
    (kind,) = [t for t in TEMPLATE_TYPES if t in template] or [None]
    if kind is None:
        raise ModelError(f"template {template.get('name')} has no type this model knows")
    return kind


def strategic_merge(original, patch, path: tuple = ()):
    """Kubernetes' strategic merge of `patch` onto `original`, for the fields these workflows use:
    maps merge key by key, the lists of MERGE_KEYS merge item by item, other lists and scalars
    from the patch replace the original's."""
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = dict(original)
        for key, value in patch.items():
            merged[key] = (
                strategic_merge(original[key], value, path + (key,))
                if (key in original)
                else copy.deepcopy(value)
            )
        return merged
    if isinstance(original, list) and isinstance(patch, list) and path in MERGE_KEYS:
        key = MERGE_KEYS[path]
        by_key = {item[key]: item for item in patch}
        merged = [strategic_merge(item, by_key.pop(item[key]), path) if item[key] in by_key
                  else copy.deepcopy(item) for item in original]  # fmt: skip
        return merged + [copy.deepcopy(item) for item in patch if item[key] in by_key]
    return copy.deepcopy(patch)


def with_template_defaults(wf: dict, template: dict) -> dict:
    """The template as Argo runs it: spec.templateDefaults merged in, the template winning
    (workflow/controller/operator.go, mergedTemplateDefaultsInto, called from executeTemplate)."""
    defaults = copy.deepcopy(wf["spec"].get("templateDefaults") or {})
    kind = template_type(template)
    for other in TEMPLATE_TYPES:
        if other != kind:
            defaults.pop(other, None)
    return strategic_merge(defaults, template)


def resolved_templates(wf: dict) -> dict[str, dict]:
    return {name: with_template_defaults(wf, t) for name, t in templates(wf).items()}


# --- the DAG --------------------------------------------------------------------------------


def dag_template(wf: dict) -> dict:
    entry = templates(wf).get(wf["spec"]["entrypoint"])
    if entry is None:
        raise ModelError(f"entrypoint {wf['spec']['entrypoint']!r} is not a template")
    if "dag" not in entry:
        raise ModelError("the entrypoint is not a DAG template")
    return entry


def task_dependencies(task: dict) -> list[str]:
    if "depends" in task:
        raise ModelError("`depends` is not supported by this model; use `dependencies`")
    return list(task.get("dependencies", []))


def task_order(wf: dict) -> list[dict]:
    """The DAG's tasks in an order that respects their dependencies; raises on a cycle."""
    tasks = {t["name"]: t for t in dag_template(wf)["dag"]["tasks"]}
    for t in tasks.values():
        for dep in task_dependencies(t):
            if dep not in tasks:
                raise ModelError(f"task {t['name']} depends on unknown task {dep}")
    order: list[dict] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in visiting:
            raise ModelError(f"dependency cycle: {' -> '.join(path + (name,))}")
        visiting.add(name)
        for dep in task_dependencies(tasks[name]):
            visit(dep, path + (name,))
        visiting.discard(name)
        done.add(name)
        order.append(tasks[name])

    for name in tasks:
        visit(name, ())
    return order


def ancestors(wf: dict, task_name: str) -> set[str]:
    tasks = {t["name"]: t for t in dag_template(wf)["dag"]["tasks"]}
    seen: set[str] = set()
    stack = list(task_dependencies(tasks[task_name]))
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(task_dependencies(tasks[name]))
    return seen


# --- the pods Argo creates ------------------------------------------------------------------


def executor_settings(path: Path = DEPLOY / "argo-executor.yaml") -> dict:
    """The `executor` key of workflow-controller-configmap, parsed as the controller parses it
    (config/controller.go, parseConfigMap: each key's text is YAML for that field of Config).
    Without the file, the install's: none (its workflow-controller-configmap has no data)."""
    if not path.exists():
        return {}
    (configmap,) = load_all(path)
    return yaml.safe_load(configmap["data"].get("executor", "")) or {}


def executor_container(name: str, settings: dict) -> dict:
    """Argo's init or wait container (workflow/controller/workflowpod.go, newExecContainer: image,
    pull policy, resources, securityContext and args from the executor settings, nothing else)."""
    container = {
        "name": name,
        "image": settings.get("image") or f"quay.io/argoproj/argoexec:{ARGO_VERSION}",
        "command": ["argoexec", name],
    }
    for key in ("imagePullPolicy", "resources", "securityContext", "args"):
        if settings.get(key):
            container[key] = copy.deepcopy(settings[key])
    return container


@dataclass
class Pod:
    """One pod the workflow would create: the task (or exit handler) and its rendered template."""

    task: str
    template: dict  # the container template, templateDefaults merged in, every tag substituted
    labels: dict
    volumes: list  # the workflow-level volumes this pod's container mounts
    security_context: dict  # pod-level
    service_account: str | None
    # Argo's own containers (init, wait); empty for pods Argo does not create (the Job).
    executor_containers: list = field(default_factory=list)

    @property
    def container(self) -> dict:
        return self.template["container"]

    @property
    def containers(self) -> list[dict]:
        """Every container the pod runs, Argo's included."""
        return [*self.executor_containers, {"name": "main", **self.container}]

    @property
    def pod_volumes(self) -> list[dict]:
        """The pod's volumes: Argo's two emptyDirs (workflowpod.go, createVolumes) and ours."""
        argo = [{"name": "var-run-argo", "emptyDir": {}}, {"name": "tmp-dir-argo", "emptyDir": {}}]
        return (argo if self.executor_containers else []) + self.volumes

    def manifest(self) -> dict:
        """The Pod object as admission sees it: init in initContainers, wait before main
        (workflowpod.go, createWorkflowPod), Argo's `workflows.argoproj.io/workflow` label."""
        init = [c for c in self.executor_containers if c["name"] == "init"]
        wait = [c for c in self.executor_containers if c["name"] == "wait"]
        spec = {
            "serviceAccountName": self.service_account,
            "securityContext": copy.deepcopy(self.security_context),
            "containers": [*copy.deepcopy(wait), {"name": "main", **copy.deepcopy(self.container)}],
            "volumes": copy.deepcopy(self.pod_volumes),
            "restartPolicy": "Never",
        }
        if init:
            spec["initContainers"] = copy.deepcopy(init)
        labels = dict(self.labels)
        if self.executor_containers:
            labels["workflows.argoproj.io/workflow"] = "sample"
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": labels}, "spec": spec}


def _input_values(template: dict, arguments: dict, values: dict, where: str) -> dict:
    given = {p["name"]: p for p in arguments.get("parameters", [])}
    declared = {p["name"]: p for p in template.get("inputs", {}).get("parameters", [])}
    unknown = set(given) - set(declared)
    if unknown:
        raise ModelError(
            f"{where} passes {sorted(unknown)}, which {template['name']} does not declare"
        )
    result = {}
    for name, decl in declared.items():
        # A value the task passes wins over the template's own default.
        raw = given[name].get("value") if name in given else decl.get("value", decl.get("default"))
        if raw is None:
            raise ModelError(f"{where}: input {name} of {template['name']} gets no value")
        result[f"inputs.parameters.{name}"] = substitute(str(raw), values)
    return result


KNOWN_TEMPLATE_FIELDS = {"name", "inputs", "outputs", "container", "metadata"}


def _pod(wf: dict, task: str, template: dict, values: dict, executor: dict) -> Pod:
    if set(template) - KNOWN_TEMPLATE_FIELDS:
        extra = set(template) - KNOWN_TEMPLATE_FIELDS
        raise ModelError(f"template {template['name']} uses {sorted(extra)}, not in this model")
    if "container" not in template:
        raise ModelError(f"template {template['name']} is not a container template")
    rendered = substitute_all(template, values)
    spec = wf["spec"]
    # Workflow-level pod labels, then the template's (workflowpod.go, addMetadata).
    labels = dict(spec.get("podMetadata", {}).get("labels", {}))
    labels.update(template.get("metadata", {}).get("labels", {}))
    mounted = {m["name"] for m in rendered["container"].get("volumeMounts", [])}
    volumes = [v for v in spec.get("volumes", []) if v["name"] in mounted]
    missing = mounted - {v["name"] for v in volumes}
    if missing:
        # workflowpod.go, addVolumeReferences: "volume '%s' not found in workflow spec".
        raise ModelError(f"template {template['name']} mounts undeclared volumes {sorted(missing)}")
    return Pod(
        task,
        rendered,
        labels,
        volumes,
        # The workflow's securityContext becomes the pod's (workflowpod.go,
        # addSchedulingConstraints), for Argo's containers too.
        spec.get("securityContext", {}),
        spec.get("serviceAccountName"),
        [executor_container("init", executor), executor_container("wait", executor)],
    )


def pods(
    wf: dict, name: str | None = None, overrides: dict | None = None, executor: dict | None = None
) -> list[Pod]:
    """Every pod of a run, in an order Argo could run them: the DAG's tasks, then onExit.
    `overrides` are the submission's -p values; without any, the sample tag is given."""
    values = global_values(wf, name, sample_overrides() if overrides is None else overrides)
    executor = executor_settings() if executor is None else executor
    by_name = resolved_templates(wf)
    dag = by_name[dag_template(wf)["name"]]
    # The DAG template's own inputs (none here, but tasks may forward them).
    dag_values = {**values, **_input_values(dag, {}, values, "entrypoint")}
    result = []
    for task in task_order(wf):
        template = by_name.get(task["template"])
        if template is None:
            raise ModelError(f"task {task['name']} uses unknown template {task['template']}")
        inputs = _input_values(
            template, task.get("arguments", {}), dag_values, f"task {task['name']}"
        )
        result.append(_pod(wf, task["name"], template, {**values, **inputs}, executor))
    exit_name = wf["spec"].get("onExit")
    if exit_name:
        template = by_name.get(exit_name)
        if template is None:
            raise ModelError(f"onExit names unknown template {exit_name}")
        inputs = _input_values(template, {}, values, "onExit")
        result.append(_pod(wf, "onExit", template, {**values, **inputs}, executor))
    return result


# --- outputs --------------------------------------------------------------------------------


def output_parameters(pod: Pod, read_volume_file) -> dict[str, dict]:
    """The pod's output parameters once its main container has exited, as the wait container
    saves them: each read from its file, one trailing newline stripped (workflow/executor/
    executor.go, SaveParameters). `read_volume_file(pod, path)` reads a file the container wrote
    on one of its volumes (the wait container mounts them under /mainctrfs:
    workflowpod.go, addOutputArtifactsVolumes)."""
    result = {}
    for p in pod.template.get("outputs", {}).get("parameters", []):
        path = p.get("valueFrom", {}).get("path")
        if path is None:
            raise ModelError(f"{pod.task}: output {p['name']} is not read from a file")
        value = read_volume_file(pod, path)
        if value.endswith("\n"):
            value = value[:-1]
        result[p["name"]] = {"value": value, "globalName": p.get("globalName")}
    return result


def workflow_outputs(pod_outputs: dict[str, dict[str, dict]]) -> dict[str, str]:
    """What `argo get` prints under Output Parameters: the `globalName` outputs of the run's pods.

    Argo adds a node's outputs to the workflow's only for pod nodes (operator.go, podReconciliation
    -> addOutputsToGlobalScope), a DAG's task nodes (dag.go, executeDAG, for each task) and steps
    nodes (steps.go). A DAG template's own `outputs` are set on its node and go no further
    (executeDAG never passes them to addOutputsToGlobalScope), so they are not read here at all.
    A later pod's value for the same name overwrites an earlier one (workflow/util/util.go,
    AddParamToGlobalScope)."""
    result = {}
    for outputs in pod_outputs.values():
        for p in outputs.values():
            if p["globalName"]:
                result[p["globalName"]] = p["value"]
    return result
