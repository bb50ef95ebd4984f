"""Just enough of Argo's semantics to check and run our two workflows without a cluster.

It covers what these workflows use and nothing more: workflow parameters, a DAG entrypoint whose
tasks pass parameters to container templates, an onExit container template, simple `{{...}}` tags.
Anything else (steps, scripts, loops, `{{=...}}` tags) raises, so a workflow that grows beyond this
model fails the tests instead of being half-checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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

# A name as Argo would generate it from generateName (five random characters).
SAMPLE_SUFFIX = "x7k2p"

TAG = re.compile(r"{{(.*?)}}")
# References inside valueFrom.expression, e.g. tasks['test-data'].outputs.parameters.metrics
EXPR_TASK_REF = re.compile(r"tasks(?:\['([^']+)'\]|\.([A-Za-z0-9_-]+))\.outputs\.parameters\.(\w+)")


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
        if value is None:
            raise ModelError(f"workflow parameter {key} has no value")
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


@dataclass
class Pod:
    """One pod the workflow would create: the task (or exit handler) and its rendered template."""

    task: str
    template: dict  # the container template with every tag substituted
    labels: dict
    volumes: list  # the workflow-level volumes this pod's container mounts
    security_context: dict  # pod-level
    service_account: str | None

    @property
    def container(self) -> dict:
        return self.template["container"]


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


def _pod(wf: dict, task: str, template: dict, values: dict) -> Pod:
    if set(template) - {"name", "inputs", "outputs", "container", "metadata"}:
        extra = set(template) - {"name", "inputs", "outputs", "container", "metadata"}
        raise ModelError(f"template {template['name']} uses {sorted(extra)}, not in this model")
    if "container" not in template:
        raise ModelError(f"template {template['name']} is not a container template")
    rendered = substitute_all(template, values)
    spec = wf["spec"]
    labels = dict(spec.get("podMetadata", {}).get("labels", {}))
    labels.update(template.get("metadata", {}).get("labels", {}))
    mounted = {m["name"] for m in rendered["container"].get("volumeMounts", [])}
    volumes = [v for v in spec.get("volumes", []) if v["name"] in mounted]
    missing = mounted - {v["name"] for v in volumes}
    if missing:
        raise ModelError(f"template {template['name']} mounts undeclared volumes {sorted(missing)}")
    return Pod(
        task,
        rendered,
        labels,
        volumes,
        spec.get("securityContext", {}),
        spec.get("serviceAccountName"),
    )


def pods(wf: dict, name: str | None = None, overrides: dict | None = None) -> list[Pod]:
    """Every pod of a run, in an order Argo could run them: the DAG's tasks, then onExit."""
    values = global_values(wf, name, overrides)
    by_name = templates(wf)
    dag = dag_template(wf)
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
        result.append(_pod(wf, task["name"], template, {**values, **inputs}))
    exit_name = wf["spec"].get("onExit")
    if exit_name:
        template = by_name.get(exit_name)
        if template is None:
            raise ModelError(f"onExit names unknown template {exit_name}")
        inputs = _input_values(template, {}, values, "onExit")
        result.append(_pod(wf, "onExit", template, {**values, **inputs}))
    return result
