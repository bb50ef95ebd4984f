"""Just enough of Kubeflow Pipelines' IR to check our two compiled pipelines without a cluster.

The YAML is loaded with the kfp SDK (`kfp.components.load_component_from_file`) and each task's
Kubernetes settings are parsed strictly into kfp-kubernetes' own message, so a misspelled field
fails. Each task is then rendered the way the KFP driver and launcher would render its pod: pipeline
parameters flow into the task's inputs, the run-id placeholder becomes the run's id (only as a
task's whole input, as backend/src/v2/driver/resolve.go does), the image is replaced by the one
parameter it names (resolvePodSpecInputRuntimeParameter), and `{{$.inputs.parameters[...]}}` tags
in command and args become the inputs' text (launcher_v2.go, getPlaceholders). Groups run when their
condition (an integer comparison of one input) holds, a loop's tasks once per item of the list it
iterates, and a task's inputs and node affinity may be an earlier task's output in the same
iteration. Anything else raises, so a pipeline that grows beyond this model fails the tests instead
of being half-checked.
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import json_format
from kfp import components
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s_pb2

ROOT = Path(__file__).resolve().parents[2]
KFP_DIR = ROOT / "workflows" / "kfp"
COMPILED = {
    "nas": KFP_DIR / "pipeline.yaml",
    "vineyard": KFP_DIR / "pipeline-with-vineyard.yaml",
}

JOB_PLACEHOLDERS = {"{{$.pipeline_job_uuid}}"}
INPUT_TAG = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
OUTPUT_TAG = re.compile(r"\{\{\$\.outputs\.parameters\['([^']+)'\]\.output_file\}\}")
ANY_TAG = re.compile(r"\{\{.*?\}\}")


class ModelError(Exception):
    """The pipeline uses something this model does not understand, or refers to nothing."""


@dataclass
class Task:
    """One task of a run: where it sits, what it waits for, and its rendered container."""

    name: str
    group: str  # the DAG it belongs to: "root" or a group's component name
    dependencies: list[str]
    trigger: str | None  # triggerPolicy.strategy, e.g. ALL_UPSTREAM_TASKS_COMPLETED
    caching: bool
    image: str
    command: list[str]
    args: list[str]
    resources: dict  # {"requests": {"cpu", "memory"}, "limits": {...}}, Kubernetes spelling
    kubernetes: k8s_pb2.KubernetesExecutorConfig
    outputs: dict[str, str]  # output parameter -> the file the launcher reads it from
    claims: dict[str, str]  # claim name -> mount path, as the driver resolves them (`claims`)
    iteration: int | None = None  # the item's index, for a task in a loop (the innermost)
    node_affinity: dict | None = None  # resolved from the task output it names
    inputs: dict = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.kubernetes.pod_metadata.labels)


def load(path: Path):
    """The compiled pipeline as the kfp SDK reads it back (a YamlComponent)."""
    return components.load_component_from_file(str(path))


def _text(value) -> str:
    # As the launcher prints a number: strconv.FormatFloat(v, 'f', -1, 64).
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def _executor_configs(component) -> dict[str, k8s_pb2.KubernetesExecutorConfig]:
    platform = json_format.MessageToDict(component.platform_spec)
    executors = (
        platform.get("platforms", {})
        .get("kubernetes", {})
        .get("deploymentSpec", {})
        .get("executors", {})
    )
    configs = {}
    for label, config in executors.items():
        message = k8s_pb2.KubernetesExecutorConfig()
        json_format.ParseDict(config, message)  # unknown fields raise
        configs[label] = message
    return configs


def _task_inputs(
    task_spec: dict, parent: dict, run_id: str, where: str, produced: dict | None = None
) -> dict:
    values = {}
    for name, spec in task_spec.get("inputs", {}).get("parameters", {}).items():
        if "taskOutputParameter" in spec:
            source = spec["taskOutputParameter"]
            if source["producerTask"] not in (produced or {}):
                raise ModelError(f"{where}: input {name} from {source['producerTask']}, not run")
            values[name] = produced[source["producerTask"]][source["outputParameterKey"]]
        elif "componentInputParameter" in spec:
            source = spec["componentInputParameter"]
            if source not in parent:
                raise ModelError(f"{where}: input {name} names unknown parameter {source}")
            values[name] = parent[source]
        elif "runtimeValue" in spec:
            constant = spec["runtimeValue"]["constant"]
            if constant in JOB_PLACEHOLDERS:
                values[name] = run_id
            elif isinstance(constant, str) and "{{$.pipeline_job" in constant:
                # The driver substitutes these only as a whole value: spliced in, they stay text.
                raise ModelError(f"{where}: input {name} splices a job placeholder: {constant}")
            else:
                values[name] = constant
        else:
            raise ModelError(f"{where}: input {name} is neither a parameter nor a constant")
    return values


def _render(text: str, inputs: dict, outputs: dict, where: str) -> str:
    text = INPUT_TAG.sub(lambda m: _lookup(inputs, m.group(1), where), text)
    text = OUTPUT_TAG.sub(lambda m: _lookup(outputs, m.group(1), where), text)
    leftover = ANY_TAG.search(text)
    if leftover:
        raise ModelError(f"{where}: unsupported placeholder {leftover.group(0)}")
    return text


def _lookup(values: dict, name: str, where: str) -> str:
    if name not in values:
        raise ModelError(f"{where}: refers to unknown parameter {name}")
    return _text(values[name])


def _image(image: str, inputs: dict, where: str) -> str:
    tags = INPUT_TAG.findall(image)
    if not tags:
        return image
    # The driver replaces the whole image by the one parameter it names, so anything around the
    # tag would be lost: only a lone tag renders as written.
    if len(tags) > 1 or INPUT_TAG.fullmatch(image) is None:
        raise ModelError(f"{where}: the image must be exactly one parameter, not {image!r}")
    return _lookup(inputs, tags[0], where)


def _claim_input(parameter: str, inputs: dict, where: str) -> str:
    """A claim name taken from one of the task's inputs."""
    if parameter not in inputs:
        raise ModelError(f"{where}: claim names unknown input {parameter}")
    return _text(inputs[parameter])


def claims(config: k8s_pb2.KubernetesExecutorConfig, inputs: dict, where: str) -> dict[str, str]:
    """Claim name -> mount path, the name resolved as the driver does (backend/src/v2/driver/
    k8s.go, makeVolumeMountPatch, KFP 2.17.0): from `pvcNameParameter` when it is set, and only
    otherwise from the deprecated `constant` / `componentInputParameter` beside it."""
    result = {}
    for mount in config.pvc_mount:
        if mount.HasField("pvc_name_parameter"):
            spec = mount.pvc_name_parameter
            kind = spec.WhichOneof("kind")
            if kind == "runtime_value" and spec.runtime_value.WhichOneof("value") == "constant":
                name = spec.runtime_value.constant.string_value
            elif kind == "component_input_parameter":
                name = _claim_input(spec.component_input_parameter, inputs, where)
            else:
                raise ModelError(f"{where}: claim name from {kind}: not in this model")
        elif mount.WhichOneof("pvc_reference") == "constant":
            name = mount.constant
        elif mount.WhichOneof("pvc_reference") == "component_input_parameter":
            name = _claim_input(mount.component_input_parameter, inputs, where)
        else:
            raise ModelError(f"{where}: claim name from a task output: not in this model")
        if not name or not mount.mount_path:
            # The driver refuses the pod: "missing mountpath or pvc name".
            raise ModelError(f"{where}: a claim mount without a claim name or a mount path")
        result[name] = mount.mount_path
    return result


def _resources(spec: dict) -> dict:
    names = {
        ("requests", "cpu"): "resourceCpuRequest",
        ("requests", "memory"): "resourceMemoryRequest",
        ("limits", "cpu"): "resourceCpuLimit",
        ("limits", "memory"): "resourceMemoryLimit",
    }
    result: dict = {"requests": {}, "limits": {}}
    for (kind, resource), key in names.items():
        if key in spec:
            result[kind][resource] = spec[key]
    return result


CONDITION = re.compile(
    r"int\(inputs\.parameter_values\['([^']+)'\]\)\s*(==|!=|>=|<=|>|<)\s*(-?\d+)"
)


def condition_holds(condition: str, inputs: dict, where: str) -> bool:
    """A group's `triggerPolicy.condition` (CEL, as dsl.If compiles an integer comparison)."""
    match = CONDITION.fullmatch(condition.strip())
    if match is None:
        raise ModelError(f"{where}: condition {condition!r} is not in this model")
    name, op, right = match.groups()
    if name not in inputs:
        raise ModelError(f"{where}: condition on unknown input {name}")
    a, b = int(inputs[name]), int(right)
    return {"==": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]


def _dag_order(dag: dict, where: str) -> list[str]:
    """A DAG's tasks with each after what it depends on or takes an output of; ties by name."""
    specs = dag["tasks"]

    def needs(name: str) -> set[str]:
        spec = specs[name]
        producers = {
            p["taskOutputParameter"]["producerTask"]
            for p in spec.get("inputs", {}).get("parameters", {}).values()
            if "taskOutputParameter" in p
        }
        return set(spec.get("dependentTasks", [])) | producers

    order: list[str] = []
    while len(order) < len(specs):
        ready = [n for n in sorted(specs) if n not in order and needs(n) <= set(order)]
        if not ready:
            raise ModelError(f"{where}: dependency cycle or unknown task among {sorted(specs)}")
        order.append(ready[0])
    return order


def run(component, run_id: str, run_task, overrides: dict | None = None) -> list[Task]:
    """Every container task of a run in an order KFP could run them, each rendered and handed to
    `run_task(task)`, which runs it and returns its output parameters by name (None: it failed,
    and the run stops there). Returns the tasks that ran."""
    spec = json_format.MessageToDict(component.pipeline_spec)
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    parameters = {name: p.get("defaultValue") for name, p in declared.items()}
    for key, value in (overrides or {}).items():
        if key not in parameters:
            raise ModelError(f"the pipeline declares no parameter {key}")
        parameters[key] = value
    configs = _executor_configs(component)
    executors = spec["deploymentSpec"]["executors"]
    comps = spec["components"]
    ran: list[Task] = []

    class Failed(Exception):
        pass

    def walk(dag: dict, group: str, values: dict, iteration) -> None:
        produced: dict[str, dict] = {}  # task -> its outputs, in this iteration of this DAG
        for name in _dag_order(dag, group):
            task_spec = dag["tasks"][name]
            where = f"task {name}"
            ref = task_spec["componentRef"]["name"]
            if ref not in comps:
                raise ModelError(f"{where}: unknown component {ref}")
            inputs = _task_inputs(task_spec, values, run_id, where, produced)
            condition = task_spec.get("triggerPolicy", {}).get("condition")
            if condition and not condition_holds(condition, inputs, where):
                continue
            comp = comps[ref]
            if "dag" in comp:
                iterator = task_spec.get("parameterIterator")
                if iterator is None:
                    walk(comp["dag"], ref, inputs, iteration)
                    continue
                items = inputs[iterator["items"]["inputParameter"]]
                if isinstance(items, str):
                    items = json.loads(items)
                for i, item in enumerate(items):
                    walk(comp["dag"], ref, {**inputs, iterator["itemInput"]: item}, i)
                continue
            task = _render_task(name, group, task_spec, comp, inputs, iteration, where)
            task.node_affinity = _node_affinity(task.kubernetes, produced, where)
            outputs = run_task(task)
            ran.append(task)
            if outputs is None:
                raise Failed(name)
            produced[name] = outputs

    def _render_task(name, group, task_spec, comp, inputs, iteration, where) -> Task:
        label = comp["executorLabel"]
        container = executors[label]["container"]
        config = configs.get(label, k8s_pb2.KubernetesExecutorConfig())
        outputs = {
            out: f"/tmp/kfp/outputs/{out}"  # where the driver points them (driver.go)
            for out in comp.get("outputDefinitions", {}).get("parameters", {})
        }
        return Task(
            name=name,
            group=group,
            dependencies=list(task_spec.get("dependentTasks", [])),
            trigger=task_spec.get("triggerPolicy", {}).get("strategy"),
            caching=bool(task_spec.get("cachingOptions", {}).get("enableCache", False)),
            image=_image(container["image"], inputs, where),
            command=[_render(c, inputs, outputs, where) for c in container["command"]],
            args=[_render(a, inputs, outputs, where) for a in container.get("args", [])],
            resources=_resources(container.get("resources", {})),
            kubernetes=config,
            outputs=outputs,
            claims=claims(config, inputs, where),
            iteration=iteration,
            inputs=inputs,
        )

    try:
        walk(spec["root"]["dag"], "root", parameters, None)
    except Failed:
        pass
    return ran


def _node_affinity(config, produced: dict, where: str) -> dict | None:
    """The node affinity the driver gives the pod: a JSON one from an earlier task's output
    (backend/src/v2/driver/k8s.go, resolveK8sJsonParameter), nothing else."""
    if not config.node_affinity:
        return None
    (term,) = config.node_affinity
    source = json_format.MessageToDict(term)
    producer = source.get("nodeAffinityJson", {}).get("taskOutputParameter")
    if set(source) != {"nodeAffinityJson"} or producer is None:
        raise ModelError(f"{where}: node affinity {source}: only a task's output is modelled")
    if producer["producerTask"] not in produced:
        raise ModelError(f"{where}: node affinity from {producer['producerTask']}, not run before")
    value = produced[producer["producerTask"]][producer["outputParameterKey"]]
    return json.loads(value) if isinstance(value, str) else value


def sample_outputs(task: Task) -> dict:
    """What a task's outputs would be, for rendering a run without running it: the partitions'
    numbers, a node named after the partition, an MSE."""
    if task.name == "partition-list":
        return {"numbers": list(range(int(task.args[0])))}
    if task.name.startswith("partition-node"):
        partition = task.args[0].rsplit("preprocess-", 1)[1].removesuffix(".json")
        return {
            "affinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {
                                    "key": "metadata.name",
                                    "operator": "In",
                                    "values": [f"node-{partition}"],
                                }
                            ]
                        }
                    ]
                }
            }
        }
    return {name: "0.25" for name in task.outputs}  # fmt: skip


def tasks(component, run_id: str, overrides: dict | None = None) -> list[Task]:
    """Every container task of a run, with sample_outputs for what earlier tasks write."""
    return run(component, run_id, sample_outputs, overrides)


def groups(component) -> dict[str, list[str]]:
    """Task name -> the names of the tasks inside it, for every task that is a DAG (a group)."""
    spec = json_format.MessageToDict(component.pipeline_spec)
    comps = spec["components"]
    found = {}

    def walk(dag: dict) -> None:
        for name, task_spec in dag["tasks"].items():
            comp = comps[task_spec["componentRef"]["name"]]
            if "dag" in comp:
                found[name] = sorted(comp["dag"]["tasks"])
                walk(comp["dag"])

    walk(spec["root"]["dag"])
    return found
