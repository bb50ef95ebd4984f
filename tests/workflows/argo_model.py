"""Argo Workflows' behaviour that our two workflows rely on, as a model that checks and runs them
without a cluster. Each rule names the file and function of Argo v3.7.18 it follows (paths are in
the argoproj/argo-workflows repository at that tag).

It covers what these workflows use and nothing more: workflow parameters, templateDefaults, a DAG
entrypoint whose tasks pass parameters to container templates (`dependencies`, loops over
`withSequence` count or `withParam`, `{{item}}` and `{{item.<key>}}`, `when` comparing two
integers), an onExit container template, simple `{{...}}` tags, output parameters read from a file
(a loop's aggregated), global outputs, a template's `affinity` (read by fluid_model's scheduler)
and env from the downward API. Anything else (steps, scripts, withItems, `depends`, `{{=...}}`
tags) raises, so a workflow that grows beyond this model fails the tests instead of being
half-checked.
"""

from __future__ import annotations

import copy
import json
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
    """The workflow as Argo gets it: YAML anchors expanded into copies of their own (a JSON round
    trip), so that a test changing one place changes no other."""
    with open(path) as f:
        return json.loads(json.dumps(yaml.safe_load(f)))


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


KNOWN_TASK_FIELDS = {
    "name", "template", "arguments", "dependencies", "withSequence", "withParam", "when",
}  # fmt: skip


def task_dependencies(task: dict) -> list[str]:
    if set(task) - KNOWN_TASK_FIELDS:
        extra = sorted(set(task) - KNOWN_TASK_FIELDS)
        raise ModelError(f"task {task['name']} uses {extra}, not in this model")
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
    # Argo's node name: the task's, with `(index:item)` for one of a loop's pods (operator.go,
    # generateNodeName).
    node: str = ""
    workflow: str = "sample"

    def __post_init__(self):
        self.node = self.node or self.task

    @property
    def container(self) -> dict:
        return self.template["container"]

    @property
    def affinity(self) -> dict:
        return self.template.get("affinity", {})

    @property
    def pod_labels(self) -> dict:
        """The labels the pod gets: ours, and Argo's `workflows.argoproj.io/workflow` (the
        workflow's name) on the pods Argo creates (workflowpod.go, createWorkflowPod)."""
        if not self.executor_containers:
            return dict(self.labels)
        return {**self.labels, "workflows.argoproj.io/workflow": self.workflow}

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
        (workflowpod.go, createWorkflowPod), the template's affinity (addSchedulingConstraints)."""
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
        if self.affinity:
            spec["affinity"] = copy.deepcopy(self.affinity)
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": self.pod_labels},
                "spec": spec}  # fmt: skip


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


KNOWN_TEMPLATE_FIELDS = {"name", "inputs", "outputs", "container", "metadata", "affinity"}
# The one downward-API field the model gives a container's env (the kubelet resolves it).
NODE_NAME_FIELD = "spec.nodeName"


def _check_env(template: dict) -> None:
    for var in template["container"].get("env", []):
        source = var.get("valueFrom")
        if source is not None and source != {"fieldRef": {"fieldPath": NODE_NAME_FIELD}}:
            raise ModelError(f"template {template['name']}: env {var['name']} from {source}")


def container_env(container: dict, node: str) -> dict:
    """The main container's environment on `node`: values, and spec.nodeName from the downward
    API as the kubelet fills it in."""
    return {e["name"]: node if "valueFrom" in e else e["value"] for e in container.get("env", [])}


def _pod(wf: dict, task: str, template: dict, values: dict, executor: dict, node: str = "") -> Pod:
    if set(template) - KNOWN_TEMPLATE_FIELDS:
        extra = set(template) - KNOWN_TEMPLATE_FIELDS
        raise ModelError(f"template {template['name']} uses {sorted(extra)}, not in this model")
    if "container" not in template:
        raise ModelError(f"template {template['name']} is not a container template")
    _check_env(template)
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
        node,
        values["workflow.name"],
    )


# --- running the DAG ------------------------------------------------------------------------

# Phases of a task's node, as Argo names them (pkg/apis/workflow/v1alpha1/workflow_types.go).
SUCCEEDED, FAILED, SKIPPED, OMITTED = "Succeeded", "Failed", "Skipped", "Omitted"
WHEN = re.compile(r"\s*(-?\d+)\s*(==|!=|>=|<=|>|<)\s*(-?\d+)\s*")


def when_holds(expression: str, where: str) -> bool:
    """A `when` once substituted, as govaluate evaluates a comparison of two numbers
    (workflow/controller/steps.go, shouldExecute); anything else is beyond this model."""
    match = WHEN.fullmatch(expression)
    if match is None:
        raise ModelError(f"{where}: when {expression!r} is not a comparison of two integers")
    a, op, b = int(match.group(1)), match.group(2), int(match.group(3))
    return {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]


def loop_items(task: dict, values: dict, where: str) -> list | None:
    """A loop task's items, None for a task that is no loop (dag.go, expandTask;
    operator.go, expandSequence: the strings "0" .. "count-1"; withParam: a JSON list)."""
    if "withSequence" in task:
        sequence = task["withSequence"]
        if set(sequence) != {"count"}:
            raise ModelError(f"{where}: withSequence {sorted(sequence)}: only count is modelled")
        return [str(i) for i in range(int(substitute(str(sequence["count"]), values)))]
    if "withParam" in task:
        items = json.loads(substitute(task["withParam"], values))
        if not isinstance(items, list):
            raise ModelError(f"{where}: withParam is not a JSON list: {items!r}")
        return items
    return None


def item_values(item) -> dict:
    """The `{{item}}` tags of one item (operator.go, processItem): a string as it is, a number
    with %v, a map's keys as `item.<key>` (values with %v) and the map as JSON."""
    if isinstance(item, str):
        return {"item": item}
    if isinstance(item, bool) or not isinstance(item, int | float | dict):
        raise ModelError(f"loop item {item!r}: not a string, number or map")
    if isinstance(item, dict):
        values = {f"item.{k}": _go_value(v) for k, v in item.items()}
        return {**values, "item": json.dumps(item, separators=(",", ":"))}
    return {"item": _go_value(item)}


def _go_value(value) -> str:
    """Go's %v of a JSON value as encoding/json decodes it: a float64 as strconv's shortest 'g'
    (a whole one without a decimal point), a list as `[a b]`, a map as `map[k:v]`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        value = float(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(value[k])}" for k in sorted(value)) + "]"
    return "<nil>" if value is None else str(value)


def node_name(task: str, index: int, item) -> str:
    """operator.go, generateNodeName: a map item is described by its sorted `key:value` pairs."""
    if isinstance(item, dict):
        item = ",".join(sorted(f"{k}:{_go_value(v)}" for k, v in item.items()))
    return f"{task}({index}:{str(item).replace('(', '').replace(')', '')})"


def aggregated(values: list[str]) -> str:
    """A loop's output parameter as later tasks see it: a JSON list of the children's values, of
    the parsed objects where every value is a JSON object or list, else of the strings
    (operator.go, processAggregateNodeOutputs, aggregatedJSONValueList)."""
    parsed = []
    for value in values:
        try:
            parsed.append(json.loads(value))
        except ValueError:
            return json.dumps(values)
    if all(isinstance(v, dict | list) for v in parsed):
        return json.dumps(parsed)
    return json.dumps(values)


@dataclass
class Node:
    """A task's node once the DAG ran: its phase, and for a loop, its children."""

    task: str
    phase: str
    pod: Pod | None = None
    outputs: dict = field(default_factory=dict)  # name -> {"value", "globalName"}
    children: list = field(default_factory=list)


def _dependencies_met(task: dict, nodes: dict) -> bool:
    """`dependencies: [A]` is `A.Succeeded || A.Skipped || A.Daemoned` (workflow/common/
    ancestry.go, getTaskDependsLogic, expandDependency): a task skipped by `when`, or a loop
    whose every pod was, lets its dependents run."""
    return all(nodes[d].phase in (SUCCEEDED, SKIPPED) for d in task_dependencies(task))


def _task_scope(nodes: dict) -> dict:
    """`tasks.<name>.outputs.parameters.<output>` of the tasks run so far (a loop's aggregated).
    That a task refers only to its ancestors is test_every_reference_resolves's to check."""
    scope = {}
    for name, node in nodes.items():
        if node.children:
            ran = [c for c in node.children if c.phase == SUCCEEDED]
            for output in {o for c in ran for o in c.outputs}:
                scope[f"tasks.{name}.outputs.parameters.{output}"] = aggregated(
                    [c.outputs[output]["value"] for c in ran if output in c.outputs]
                )
        else:
            for output, p in node.outputs.items():
                scope[f"tasks.{name}.outputs.parameters.{output}"] = p["value"]
    return scope


def run_dag(wf: dict, run_pod, name: str | None = None, overrides: dict | None = None,
            executor: dict | None = None) -> dict[str, Node]:  # fmt: skip
    """The DAG's tasks in dependency order, each loop's pods one after another: `run_pod(pod)`
    runs one and returns its output parameters (see output_parameters), or None when it failed.
    A failed pod fails its task, and the tasks that depend on it are omitted (dag.go,
    evaluateDependsLogic) as Argo would leave them. Returns each task's node."""
    values = global_values(wf, name, sample_overrides() if overrides is None else overrides)
    executor = executor_settings() if executor is None else executor
    by_name = resolved_templates(wf)
    dag = by_name[dag_template(wf)["name"]]
    # The DAG template's own inputs (none here, but tasks may forward them).
    dag_values = {**values, **_input_values(dag, {}, values, "entrypoint")}
    nodes: dict[str, Node] = {}
    for task in task_order(wf):
        where = f"task {task['name']}"
        template = by_name.get(task["template"])
        if template is None:
            raise ModelError(f"{where} uses unknown template {task['template']}")
        if not _dependencies_met(task, nodes):
            nodes[task["name"]] = Node(task["name"], OMITTED)
            continue
        scope = {**dag_values, **_task_scope(nodes)}
        items = loop_items(task, scope, where)
        runs = [(task["name"], scope)] if items is None else [
            (node_name(task["name"], i, item), {**scope, **item_values(item)})
            for i, item in enumerate(items)
        ]  # fmt: skip
        children = []
        for child, child_scope in runs:
            if "when" in task and not when_holds(substitute(task["when"], child_scope), where):
                children.append(Node(task["name"], SKIPPED))
                continue
            inputs = _input_values(template, task.get("arguments", {}), child_scope, where)
            pod = _pod(wf, task["name"], template, {**values, **inputs}, executor, child)
            outputs = run_pod(pod)
            phase = FAILED if outputs is None else SUCCEEDED
            children.append(Node(task["name"], phase, pod, outputs or {}))
        if items is None:
            nodes[task["name"]] = children[0]
            continue
        # A loop's node: Skipped with no items ("Skipped, empty params") or none run, Failed if a
        # pod failed, else Succeeded (dag.go, executeDAGTask).
        phases = {c.phase for c in children}
        phase = FAILED if FAILED in phases else SKIPPED if phases <= {SKIPPED} else SUCCEEDED
        nodes[task["name"]] = Node(task["name"], phase, children=children)
    return nodes


def exit_pod(wf: dict, name: str | None = None, overrides: dict | None = None,
             executor: dict | None = None) -> Pod:  # fmt: skip
    values = global_values(wf, name, sample_overrides() if overrides is None else overrides)
    executor = executor_settings() if executor is None else executor
    exit_name = wf["spec"]["onExit"]
    template = resolved_templates(wf).get(exit_name)
    if template is None:
        raise ModelError(f"onExit names unknown template {exit_name}")
    inputs = _input_values(template, {}, values, "onExit")
    return _pod(wf, "onExit", template, {**values, **inputs}, executor)


def dag_pods(nodes: dict[str, Node]) -> list[Pod]:
    return [n.pod for node in nodes.values() for n in (node.children or [node]) if n.pod]


# What the steps write where the workflows read outputs, for rendering a run without running it:
# preprocess's placement record of partition K (on a node named after it), and the MSE.
PLACEMENT = re.compile(r".*/parts/preprocess-(\d+)\.json")


def sample_file(pod: Pod, path: str) -> str:
    match = PLACEMENT.fullmatch(path)
    if match:
        return json.dumps({"partition": int(match.group(1)), "node": f"node-{match.group(1)}"})
    if path.endswith("/mse"):
        return "0.25\n"
    raise ModelError(f"{pod.node}: no sample for {path}")


def pods(
    wf: dict, name: str | None = None, overrides: dict | None = None, executor: dict | None = None
) -> list[Pod]:
    """Every pod of a run that succeeds, in an order Argo could run them: the DAG's, each step's
    files as sample_file gives them, then onExit. `overrides` are the submission's -p values;
    without any, the sample tag is given."""
    nodes = run_dag(wf, lambda pod: output_parameters(pod, sample_file), name, overrides, executor)
    return [*dag_pods(nodes), exit_pod(wf, name, overrides, executor)]


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
