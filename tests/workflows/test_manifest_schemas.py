"""Strict schema validation of everything we ask users to submit or apply.

Strict means an unknown or misspelled field anywhere fails. Kubernetes would silently drop such a
field (or Argo would), and the pipeline would run without, say, its read-only root filesystem.
Argo's published JSON schema and Fluid's CRD schemas leave their objects open, so they are closed
here; core Kubernetes objects go through kubernetes-validate's strict mode.
"""

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
import yaml
from argo_model import DEPLOY, K8S_VERSION, WORKFLOWS, load, load_all

ARGO_VERSIONS = ["v3.7.18", "v4.1.2"]
CORE_MANIFESTS = [
    "nas.yaml", "rbac.yaml", "prepare-data-job.yaml", "argo-executor.yaml", "pod-security.yaml",
]  # fmt: skip
FLUID_CRDS = {
    "Dataset": "fluid-data.fluid.io_datasets.yaml",
    "VineyardRuntime": "fluid-data.fluid.io_vineyardruntimes.yaml",
}


def close_objects(node):
    """Set additionalProperties: false wherever an object schema declares its properties and says
    nothing about others. Maps (labels, resources.limits) declare additionalProperties: open."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            if node.get("x-kubernetes-preserve-unknown-fields"):
                pass  # the schema says on purpose that anything goes here
            else:
                node["additionalProperties"] = False
        for key, value in node.items():
            if key in ("properties", "definitions", "$defs", "patternProperties"):
                for sub in value.values():
                    close_objects(sub)
            elif key not in ("enum", "const", "default", "required", "example"):
                close_objects(value)
    elif isinstance(node, list):
        for item in node:
            close_objects(item)
    return node


_validators: dict = {}


def partial_template_defaults(definitions: dict) -> None:
    """templateDefaults is a partial template that Argo merges into each template
    (workflow/controller/operator.go, mergedTemplateDefaultsInto), and a container template may
    leave its image to it (workflow/validate/validate.go: "container.image may not be empty"
    only when templateDefaults gives none). The published schema types it as a whole Template,
    whose container requires an image; here its container requires nothing."""
    template = "io.argoproj.workflow.v1alpha1.Template"
    container = copy.deepcopy(definitions["io.k8s.api.core.v1.Container"])
    container.pop("required", None)
    defaults = copy.deepcopy(definitions[template])
    defaults["properties"]["container"] = {"$ref": "#/definitions/shmpipe.DefaultContainer"}
    definitions["shmpipe.DefaultContainer"] = container
    definitions["shmpipe.TemplateDefaults"] = defaults
    spec = definitions["io.argoproj.workflow.v1alpha1.WorkflowSpec"]["properties"]
    assert spec["templateDefaults"]["$ref"] == f"#/definitions/{template}"
    spec["templateDefaults"] = {"$ref": "#/definitions/shmpipe.TemplateDefaults"}


def argo_validator(schema_dir, version):
    if version not in _validators:
        with open(schema_dir / f"argo-workflows-{version}.schema.json") as f:
            schema = json.load(f)
        partial_template_defaults(schema["definitions"])
        close_objects(schema)
        # Validate against the Workflow definition itself: the top-level oneOf over all Argo kinds
        # only reports "not valid under any", hiding which field is wrong.
        root = {
            "$schema": schema["$schema"],
            "$ref": "#/definitions/io.argoproj.workflow.v1alpha1.Workflow",
            "definitions": schema["definitions"],
        }
        cls = jsonschema.validators.validator_for(root)
        cls.check_schema(root)
        _validators[version] = cls(root)
    return _validators[version]


def fluid_validator(schema_dir, kind):
    key = ("fluid", kind)
    if key not in _validators:
        with open(schema_dir / FLUID_CRDS[kind]) as f:
            crd = yaml.safe_load(f)
        assert crd["spec"]["names"]["kind"] == kind
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
        schema = close_objects(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
        _validators[key] = jsonschema.Draft7Validator(schema)
    return _validators[key]


def errors_of(validator, document) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(document)
    ]


@pytest.mark.parametrize("version", ARGO_VERSIONS)
@pytest.mark.parametrize("variant", sorted(WORKFLOWS))
def test_workflow_is_valid_under_the_closed_argo_schema(schema_dir, version, variant):
    errors = errors_of(argo_validator(schema_dir, version), load(WORKFLOWS[variant]))
    assert not errors, "\n".join(errors)


# Each misspelling sits at a different depth, so closing the schema must have reached them all.
MISSPELLINGS = [
    ("spec", "serviceAccountName", "serviceAcountName"),
    ("spec.securityContext", "runAsNonRoot", "runAsNonroot"),
    ("spec.templateDefaults.container", "imagePullPolicy", "imagePulPolicy"),
    (
        "spec.templateDefaults.container.securityContext",
        "readOnlyRootFilesystem",
        "readOnlyRootFilesytem",
    ),
    ("spec.templateDefaults.container.volumeMounts.0", "mountPath", "mountpath"),
    ("spec.templates.1.container", "command", "commnd"),
    ("spec.templates.0.dag.tasks.1", "dependencies", "dependancies"),
    ("spec.templates.0.dag.tasks.0.withSequence", "count", "cont"),
    ("spec.templates.0.dag.tasks.1", "withParam", "withParams"),
    ("spec.templates.0.dag.tasks.2", "when", "wen"),
    ("spec.templates.1.affinity.podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution",
     "preferredDuringScheduling"),
    ("spec.templates.1.container.env.0.valueFrom.fieldRef", "fieldPath", "fieldpath"),
    ("spec.templates.2.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
     ".nodeSelectorTerms.0", "matchFields", "matchField"),
    ("spec.templates.4.outputs.parameters.0.valueFrom", "path", "paht"),
]  # fmt: skip


def _rename(document, dotted, old, new):
    node = document
    for part in dotted.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert old in node, f"{dotted} has no {old}: the test's own path is stale"
    node[new] = node.pop(old)


@pytest.mark.parametrize("version", ARGO_VERSIONS)
@pytest.mark.parametrize(("where", "old", "new"), MISSPELLINGS)
def test_a_misspelled_workflow_field_fails(schema_dir, version, where, old, new):
    document = load(WORKFLOWS["vineyard"])
    _rename(document, where, old, new)
    errors = errors_of(argo_validator(schema_dir, version), document)
    assert any(repr(new) in e for e in errors), f"{where}.{new} passed validation: {errors}"


@pytest.mark.parametrize("version", ARGO_VERSIONS)
def test_template_defaults_still_need_each_template_to_have_an_image(schema_dir, version):
    """Relaxing templateDefaults must not relax the templates: with no default image, a container
    template without one is still an error."""
    document = load(WORKFLOWS["nas"])
    del document["spec"]["templates"][1]["container"]["image"]
    errors = errors_of(argo_validator(schema_dir, version), document)
    assert any("'image' is a required property" in e for e in errors), errors


@pytest.mark.parametrize("version", ARGO_VERSIONS)
def test_a_mistyped_quantity_fails(schema_dir, version):
    # YAML reads `cpu: 2` as an integer; Kubernetes wants the string "2".
    document = load(WORKFLOWS["nas"])
    document["spec"]["templateDefaults"]["container"]["resources"]["limits"]["cpu"] = 2
    assert errors_of(argo_validator(schema_dir, version), document)


def core_documents():
    return [
        pytest.param(document, id=f"{name}#{i}-{document['kind']}")
        for name in CORE_MANIFESTS
        for i, document in enumerate(load_all(DEPLOY / name))
    ]


@pytest.mark.parametrize("document", core_documents())
def test_core_object_is_valid_strictly(document):
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_a_misspelled_core_field_fails():
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalaton"] = False
    with pytest.raises(kubernetes_validate.ValidationError, match="allowPrivilegeEscalaton"):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


def fluid_documents():
    return [
        d for d in load_all(DEPLOY / "vineyard.yaml") if d["apiVersion"] == "data.fluid.io/v1alpha1"
    ]


def test_vineyard_manifest_holds_exactly_a_runtime_and_a_dataset():
    assert sorted(d["kind"] for d in load_all(DEPLOY / "vineyard.yaml")) == [
        "Dataset",
        "VineyardRuntime",
    ]
    assert all(
        d["apiVersion"] == "data.fluid.io/v1alpha1" for d in load_all(DEPLOY / "vineyard.yaml")
    )


@pytest.mark.parametrize("document", fluid_documents(), ids=lambda d: d["kind"])
def test_fluid_object_is_valid_under_the_closed_crd_schema(schema_dir, document):
    errors = errors_of(fluid_validator(schema_dir, document["kind"]), document)
    assert not errors, "\n".join(errors)
    # The CRD schema leaves metadata open (the API server checks it); check what we rely on.
    assert set(document["metadata"]) <= {"name", "namespace", "labels", "annotations"}


def test_a_misspelled_fluid_field_fails(schema_dir):
    (runtime,) = [d for d in fluid_documents() if d["kind"] == "VineyardRuntime"]
    runtime = copy.deepcopy(runtime)
    level = runtime["spec"]["tieredstore"]["levels"][0]
    level["mediumType"] = level.pop("mediumtype")  # the CRD spells it all lower case
    errors = errors_of(fluid_validator(schema_dir, "VineyardRuntime"), runtime)
    assert any("'mediumType'" in e for e in errors), errors


def test_argo_executor_settings_are_a_strictly_valid_container():
    """The controller parses the `executor` text strictly into a Kubernetes Container
    (config/controller.go, parseConfigMap: yaml.UnmarshalStrict), so a misspelled field there
    stops it; check it as that Container, in a pod, strictly."""
    from argo_model import executor_settings

    (configmap,) = load_all(DEPLOY / "argo-executor.yaml")
    assert configmap["metadata"] == {"name": "workflow-controller-configmap"}
    assert set(configmap["data"]) == {"executor"}
    settings = executor_settings()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "wait"},
        "spec": {"containers": [{"name": "wait", "image": "argoexec", **settings}]},
    }
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    settings["securityContext"]["allowPrivilegeEscalaton"] = False
    with pytest.raises(kubernetes_validate.ValidationError, match="allowPrivilegeEscalaton"):
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
