"""deploy/pod-security.yaml, evaluated with a CEL interpreter (cel-python) as the API server would
for each request: the pods Argo and the Job create are admitted; Fluid's vineyard runtime pods are
exempt only when the StatefulSet or DaemonSet controller creates them for the runtime's own
StatefulSets and DaemonSet; every attack a pipeline author could try is rejected (spoofed labels
or owners, a debug container, AppArmor or a pod-level seccomp Unconfined, hostPath, host
namespaces, a privileged init container); and only Fluid may create the controllers the
exemption trusts. The Fluid pods are those the chart renders (deploy/NOTES.md, Pod Security).

cel-python is not Kubernetes' CEL (which type-checks against the Pod schema first); the
expressions keep to standard CEL so both read them alike.
"""

import copy

import celpy
import pytest
from argo_model import DEPLOY, WORKFLOWS, load, load_all, pods
from pod_security import restricted_violations

STATEFULSET_CONTROLLER = "system:serviceaccount:kube-system:statefulset-controller"
DAEMONSET_CONTROLLER = "system:serviceaccount:kube-system:daemon-set-controller"
# Argo's install.yaml runs its controller as the service account `argo` in namespace `argo`.
ARGO_CONTROLLER = "system:serviceaccount:argo:argo"
JOB_CONTROLLER = "system:serviceaccount:kube-system:job-controller"
FLUID_CONTROLLER = "system:serviceaccount:fluid-system:vineyardruntime-controller"
AUTHOR = "alice@example.com"


@pytest.fixture(scope="module")
def policies():
    documents = load_all(DEPLOY / "pod-security.yaml")
    vaps = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ValidatingAdmissionPolicy"}
    bindings = [d for d in documents if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    return vaps, bindings


@pytest.fixture(scope="module")
def pod_policy(policies):
    return policies[0]["shmpipe-restricted-pods"]


def _program(expression: str):
    env = celpy.Environment()
    return env.program(env.compile(expression))


def _matches(policy_doc: dict, group: str, resource: str, operation: str) -> bool:
    return any(
        group in rule["apiGroups"] and resource in rule["resources"]
        and operation in rule["operations"]
        for rule in policy_doc["spec"]["matchConstraints"]["resourceRules"]
    )  # fmt: skip


def admission(policy_doc, obj, username, *, resource="pods", operation="CREATE", group=""):
    """The messages of the validations that fail for this request; None if the policy does not
    apply to it."""
    spec = policy_doc["spec"]
    if not _matches(policy_doc, group, resource, operation):
        return None
    request = {"userInfo": {"username": username}, "operation": operation,
               "subResource": resource.partition("/")[2]}  # fmt: skip
    activation = {"object": celpy.json_to_cel(obj), "request": celpy.json_to_cel(request)}
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


def _owner(kind: str, name: str, api_version: str = "apps/v1") -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": "0000",
            "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def _argo_pods():
    manifests = []
    for variant, path in WORKFLOWS.items():
        for p in pods(load(path)):
            manifest = p.manifest()
            manifest["metadata"]["ownerReferences"] = [
                _owner("Workflow", "sample", "argoproj.io/v1alpha1")
            ]
            manifests.append((f"{variant}/{p.task}", manifest, ARGO_CONTROLLER))
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    template = copy.deepcopy(job["spec"]["template"])
    template["metadata"]["ownerReferences"] = [_owner("Job", "prepare-data", "batch/v1")]
    manifests.append(("prepare-data Job", template, JOB_CONTROLLER))
    return manifests


def _runtime_name() -> str:
    (runtime,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "VineyardRuntime"]
    return runtime["metadata"]["name"]


def fluid_pods(runtime: str) -> dict:
    """Fluid's vineyard runtime pods as its chart renders them and the controllers create them:
    the release is the runtime's name, and the chart's full name is that name when it contains
    "vineyard", else `<name>-vineyard`."""
    full = runtime if "vineyard" in runtime else f"{runtime}-vineyard"

    def labels(role):
        return {"app": "vineyard", "chart": "vineyard-0.21.5", "release": runtime, "role": role}

    master = {
        "metadata": {"labels": labels("vineyard-master"),
                     "ownerReferences": [_owner("StatefulSet", f"{full}-master")]},
        "spec": {"containers": [{"name": "vineyard-master", "image": "vineyardd",
                                 "securityContext": {"runAsUser": 1001, "runAsNonRoot": True,
                                                     "privileged": False}}],
                 "volumes": [{"name": "etcd-data", "emptyDir": {}}]},
    }  # fmt: skip
    worker = {
        "metadata": {"labels": labels("vineyard-worker"),
                     "ownerReferences": [_owner("StatefulSet", f"{full}-worker")]},
        "spec": {"containers": [{"name": "vineyard-worker", "image": "vineyardd",
                                 "volumeMounts": [{"name": "vineyard-socket",
                                                   "mountPath": "/var/run/vineyard"}]}],
                 "volumes": [{"name": "vineyard-socket",
                              "hostPath": {"path": "/runtime-mnt/vineyard/shmpipe/vineyard"}}]},
    }  # fmt: skip
    fuse = {
        "metadata": {"labels": labels("vineyard-fuse"),
                     "ownerReferences": [_owner("DaemonSet", f"{full}-fuse")]},
        "spec": {"hostPID": True,
                 "containers": [{"name": "vineyard-fuse", "image": "fuse",
                                 "securityContext": {"privileged": True}}],
                 "volumes": [{"name": "vineyard-fuse-mount",
                              "hostPath": {"path": "/runtime-mnt/vineyard/shmpipe/vineyard"}}]},
    }  # fmt: skip
    return {
        "master": (master, STATEFULSET_CONTROLLER),
        "worker": (worker, STATEFULSET_CONTROLLER),
        "fuse": (fuse, DAEMONSET_CONTROLLER),
    }


# --- what must be admitted -------------------------------------------------------------------


def test_the_bindings_select_the_label_make_puts_on_the_namespace(policies):
    from pathlib import Path

    vaps, bindings = policies
    assert sorted(b["spec"]["policyName"] for b in bindings) == sorted(vaps)
    makefile = (Path(DEPLOY).parent / "Makefile").read_text()
    for binding in bindings:
        assert binding["spec"]["validationActions"] == ["Deny"]
        selector = binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
        for key, value in selector.items():
            assert f"{key}={value}" in makefile


def test_the_policy_admits_every_pod_of_the_pipeline(pod_policy):
    for name, pod, creator in _argo_pods():
        assert admission(pod_policy, pod, creator) == [], name


@pytest.mark.parametrize("component", ["master", "worker", "fuse"])
def test_fluids_runtime_pods_created_by_their_controllers_are_exempt(pod_policy, component):
    pod, creator = fluid_pods(_runtime_name())[component]
    assert admission(pod_policy, pod, creator) is None


# --- what must be rejected -------------------------------------------------------------------


def _spoofed_fuse():
    pod, _ = copy.deepcopy(fluid_pods(_runtime_name())["fuse"])
    pod["spec"]["volumes"].append({"name": "root", "hostPath": {"path": "/"}})
    return pod


def test_fluids_labels_and_owners_written_by_an_author_exempt_nothing(pod_policy):
    """Argo copies a workflow's pod labels onto its pods: the labels Fluid's chart writes are
    anyone's to set, and so is an ownerReference on a pod created directly."""
    spoofed = _spoofed_fuse()
    for creator in (ARGO_CONTROLLER, AUTHOR, JOB_CONTROLLER):
        assert admission(pod_policy, spoofed, creator), creator
    without_owner = copy.deepcopy(spoofed)
    del without_owner["metadata"]["ownerReferences"]
    assert admission(pod_policy, without_owner, ARGO_CONTROLLER)


def test_a_statefulset_or_daemonset_not_fluids_exempts_nothing(pod_policy):
    pod = _spoofed_fuse()
    for kind, name, creator in [
        ("DaemonSet", "debug", DAEMONSET_CONTROLLER),
        ("StatefulSet", "vineyard-fuse", STATEFULSET_CONTROLLER),
        ("DaemonSet", "vineyard-worker", DAEMONSET_CONTROLLER),
        ("ReplicaSet", "vineyard-worker", STATEFULSET_CONTROLLER),
    ]:
        pod["metadata"]["ownerReferences"] = [_owner(kind, name)]
        assert admission(pod_policy, pod, creator), (kind, name)
    # An owner that is not the controller reference is not who created the pod.
    pod["metadata"]["ownerReferences"] = [{**_owner("DaemonSet", "vineyard-fuse"),
                                           "controller": False}]  # fmt: skip
    assert admission(pod_policy, pod, DAEMONSET_CONTROLLER)


def _sysadmin_debug_container() -> dict:
    """What `kubectl debug --profile=sysadmin` adds: a privileged ephemeral container."""
    return {"name": "debugger", "image": "busybox", "targetContainerName": "main",
            "securityContext": {"privileged": True}}  # fmt: skip


def test_a_debug_container_is_checked(pod_policy):
    (_, pod, _), *_ = _argo_pods()
    pod = copy.deepcopy(pod)
    pod["spec"]["ephemeralContainers"] = [_sysadmin_debug_container()]
    assert admission(pod_policy, pod, AUTHOR, resource="pods/ephemeralcontainers",
                     operation="UPDATE")  # fmt: skip
    # Also on Fluid's own pods: the exemption is the controllers', not the author's.
    fuse, _ = copy.deepcopy(fluid_pods(_runtime_name())["fuse"])
    fuse["spec"]["ephemeralContainers"] = [_sysadmin_debug_container()]
    assert admission(pod_policy, fuse, AUTHOR, resource="pods/ephemeralcontainers",
                     operation="UPDATE")  # fmt: skip


def _mutations():
    def container_sc(key, value, index=0, where="containers"):
        def mutate(pod):
            pod["spec"][where][index].setdefault("securityContext", {})[key] = value

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

    def host(key):
        def mutate(pod):
            pod["spec"][key] = True

        return mutate

    def host_port(pod):
        pod["spec"]["containers"][1]["ports"] = [{"containerPort": 80, "hostPort": 80}]

    def no_seccomp(pod):
        del pod["spec"]["securityContext"]["seccompProfile"]

    def no_run_as_non_root(pod):
        del pod["spec"]["securityContext"]["runAsNonRoot"]

    def pod_seccomp_unconfined_containers_confined(pod):
        pod["spec"]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
        for c in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
            c["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}

    def apparmor_annotation(pod):
        pod["metadata"]["annotations"] = {
            "container.apparmor.security.beta.kubernetes.io/main": "unconfined"
        }

    def ephemeral(pod):
        pod["spec"]["ephemeralContainers"] = [_sysadmin_debug_container()]

    unconfined = {"type": "Unconfined"}
    return {
        "wait escalates": container_sc("allowPrivilegeEscalation", True),
        "wait privileged": container_sc("privileged", True),
        "wait as root": container_sc("runAsUser", 0),
        "init privileged": container_sc("privileged", True, where="initContainers"),
        "init without securityContext": init_sc_dropped,
        "pod as root": pod_sc("runAsUser", 0),
        "main adds SYS_ADMIN": caps_add,
        "main drops nothing": caps_drop_none,
        "hostPath volume": host_path,
        "host network": host("hostNetwork"),
        "host PID": host("hostPID"),
        "host IPC": host("hostIPC"),
        "host port": host_port,
        "no seccomp": no_seccomp,
        "no runAsNonRoot": no_run_as_non_root,
        "unconfined seccomp": pod_sc("seccompProfile", unconfined),
        "pod seccomp Unconfined, containers RuntimeDefault": (
            pod_seccomp_unconfined_containers_confined
        ),
        "pod AppArmor Unconfined": pod_sc("appArmorProfile", unconfined),
        "main AppArmor Unconfined": container_sc("appArmorProfile", unconfined, index=1),
        "AppArmor annotation unconfined": apparmor_annotation,
        "privileged ephemeral container": ephemeral,
    }


@pytest.mark.parametrize("mutation", sorted(_mutations()))
def test_the_policy_rejects_what_restricted_rejects(pod_policy, mutation):
    (_, pod, creator), *_ = _argo_pods()
    manifest = copy.deepcopy(pod)
    _mutations()[mutation](manifest)
    spec = manifest["spec"]
    containers = [*spec.get("initContainers", []), *spec["containers"],
                  *spec.get("ephemeralContainers", [])]  # fmt: skip
    expected = restricted_violations(spec["securityContext"], containers, spec["volumes"], spec,
                                     manifest["metadata"].get("annotations"))  # fmt: skip
    assert expected, f"the restricted check finds nothing wrong with {mutation}"
    assert admission(pod_policy, manifest, creator), f"the policy admits a pod with {mutation}"
    # Labelled as Fluid's, by whoever wrote the workflow: still rejected.
    manifest["metadata"]["labels"].update(app="vineyard", role="vineyard-fuse")
    assert admission(pod_policy, manifest, creator), f"Fluid's labels exempt {mutation}"


# --- who may create the controllers the exemption trusts -------------------------------------


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet"])
@pytest.mark.parametrize("operation", ["CREATE", "UPDATE"])
def test_only_fluid_creates_or_changes_statefulsets_and_daemonsets(policies, kind, operation):
    vaps, _ = policies
    fuse, _ = fluid_pods(_runtime_name())["fuse"]
    obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "vineyard-fuse"},
           "spec": {"template": {"metadata": fuse["metadata"], "spec": fuse["spec"]}}}  # fmt: skip
    resource = kind.lower() + "s"
    results = {
        who: [admission(vap, obj, who, resource=resource, operation=operation, group="apps")
              for vap in vaps.values()]
        for who in (AUTHOR, ARGO_CONTROLLER, FLUID_CONTROLLER)
    }  # fmt: skip
    assert any(results[AUTHOR]), "an author may create the controllers Fluid's pods come from"
    assert any(results[ARGO_CONTROLLER])
    assert not any(results[FLUID_CONTROLLER]), results[FLUID_CONTROLLER]


# --- the probes make cluster-check sends ------------------------------------------------------


def test_the_cluster_checks_probes_expect_what_the_policies_do(policies):
    """deploy/policy-probes.yaml, sent by an administrator: each is admitted or rejected as its
    annotation says, so the cluster's answers can be compared with this evaluation."""
    vaps, _ = policies
    probes = load_all(DEPLOY / "policy-probes.yaml")
    assert {p["metadata"]["annotations"]["shmpipe.io/probe"] for p in probes} == {
        "admitted",
        "rejected",
    }
    for probe in probes:
        group, _, _ = probe["apiVersion"].rpartition("/")
        resource = probe["kind"].lower() + "s"
        denied = [
            admission(vap, probe, "kubernetes-admin", resource=resource, group=group)
            for vap in vaps.values()
        ]
        got = "rejected" if any(denied) else "admitted"
        assert got == probe["metadata"]["annotations"]["shmpipe.io/probe"], probe["metadata"]
