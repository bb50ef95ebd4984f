"""deploy/pod-security.yaml, the policy that enforces Pod Security "restricted" in the pipeline's
namespace, evaluated here with a CEL interpreter (cel-python) on the pods the workflows and the
Job create: it admits every one of them, rejects each kind of violation the restricted check
(pod_security.py) finds, and leaves Fluid's vineyard runtime pods alone.

cel-python is not Kubernetes' CEL (which type-checks against the Pod schema first); the
expressions keep to standard CEL (has, all, in, ternaries over booleans) so both read them alike.
"""

import copy

import celpy
import pytest
from argo_model import DEPLOY, WORKFLOWS, load, load_all, pods
from pod_security import restricted_violations


@pytest.fixture(scope="module")
def policy():
    documents = {d["kind"]: d for d in load_all(DEPLOY / "pod-security.yaml")}
    return documents["ValidatingAdmissionPolicy"], documents["ValidatingAdmissionPolicyBinding"]


def _program(expression: str):
    env = celpy.Environment()
    return env.program(env.compile(expression))


def admission(policy_doc: dict, pod: dict) -> list[str]:
    """The messages of the validations that fail for `pod`; None if the policy does not apply."""
    spec = policy_doc["spec"]
    activation = {"object": celpy.json_to_cel(pod)}
    for condition in spec.get("matchConditions", []):
        if not _program(condition["expression"]).evaluate(activation):
            return None
    variables = {}
    for variable in spec.get("variables", []):
        variables[variable["name"]] = _program(variable["expression"]).evaluate(
            {**activation, "variables": celpy.celtypes.MapType(variables)}
        )
    activation["variables"] = celpy.celtypes.MapType(variables)
    return [
        v["message"]
        for v in spec["validations"]
        if not _program(v["expression"]).evaluate(activation)
    ]


def _our_pods():
    manifests = [(f"{variant}/{p.task}", p.manifest()) for variant, path in WORKFLOWS.items()
                 for p in pods(load(path))]  # fmt: skip
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    manifests.append(("prepare-data Job", {"metadata": job["spec"]["template"]["metadata"],
                                           "spec": job["spec"]["template"]["spec"]}))  # fmt: skip
    return manifests


def test_the_binding_selects_the_label_make_puts_on_the_namespace(policy):
    from pathlib import Path

    vap, binding = policy
    assert binding["spec"]["policyName"] == vap["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    selector = binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
    makefile = (Path(DEPLOY).parent / "Makefile").read_text()
    for key, value in selector.items():
        assert f"{key}={value}" in makefile


def test_the_policy_admits_every_pod_of_the_pipeline(policy):
    vap, _ = policy
    for name, pod in _our_pods():
        assert admission(vap, pod) == [], name


def _mutations():
    def container_sc(key, value):
        def mutate(pod):
            pod["spec"]["containers"][0].setdefault("securityContext", {})[key] = value

        return mutate

    def init_sc_dropped(pod):
        del pod["spec"]["initContainers"][0]["securityContext"]

    def pod_sc(key, value):
        def mutate(pod):
            pod["spec"]["securityContext"][key] = value

        return mutate

    def caps_add(pod):
        pod["spec"]["containers"][1]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]

    def caps_drop_none(pod):
        pod["spec"]["containers"][1]["securityContext"]["capabilities"]["drop"] = []

    def host_path(pod):
        pod["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}})

    def host_network(pod):
        pod["spec"]["hostNetwork"] = True

    def host_port(pod):
        pod["spec"]["containers"][1]["ports"] = [{"containerPort": 80, "hostPort": 80}]

    def no_seccomp(pod):
        del pod["spec"]["securityContext"]["seccompProfile"]

    def no_run_as_non_root(pod):
        del pod["spec"]["securityContext"]["runAsNonRoot"]

    return {
        "wait escalates": container_sc("allowPrivilegeEscalation", True),
        "wait privileged": container_sc("privileged", True),
        "wait as root": container_sc("runAsUser", 0),
        "init without securityContext": init_sc_dropped,
        "pod as root": pod_sc("runAsUser", 0),
        "main adds SYS_ADMIN": caps_add,
        "main drops nothing": caps_drop_none,
        "hostPath volume": host_path,
        "host network": host_network,
        "host port": host_port,
        "no seccomp": no_seccomp,
        "no runAsNonRoot": no_run_as_non_root,
        "unconfined seccomp": pod_sc("seccompProfile", {"type": "Unconfined"}),
    }


@pytest.mark.parametrize("mutation", sorted(_mutations()))
def test_the_policy_rejects_what_restricted_rejects(policy, mutation):
    vap, _ = policy
    (pod, *_) = pods(load(WORKFLOWS["vineyard"]))
    manifest = copy.deepcopy(pod.manifest())
    _mutations()[mutation](manifest)
    spec = manifest["spec"]
    containers = [*spec.get("initContainers", []), *spec["containers"]]
    expected = restricted_violations(spec["securityContext"], containers, spec["volumes"], spec)
    assert expected, f"the restricted check finds nothing wrong with {mutation}"
    assert admission(vap, manifest), f"the policy admits a pod with {mutation}"


def test_fluids_vineyard_pods_are_left_to_the_namespace(policy):
    """The fuse is privileged by design; the policy does not apply to it, nor to the worker."""
    vap, _ = policy
    fuse = {
        "metadata": {"labels": {"app": "vineyard", "role": "vineyard-fuse", "release": "vineyard"}},
        "spec": {"containers": [{"name": "vineyard-fuse", "image": "fuse",
                                 "securityContext": {"privileged": True}}]},
    }  # fmt: skip
    assert admission(vap, fuse) is None
    fuse["metadata"]["labels"]["role"] = "something-else"
    assert admission(vap, fuse)
