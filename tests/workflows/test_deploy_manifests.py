"""deploy/ pieces that must agree with each other: the kind nodes' NAS mount and the PV, the claim
and the PV, RBAC and the service account, the webhook profile, and the Job as `make` applies it."""

import subprocess

import kubernetes_validate
import yaml
from argo_model import DEPLOY, K8S_VERSION, ROOT, load, load_all


def _by_kind(name):
    return {d["kind"]: d for d in load_all(DEPLOY / name)}


def test_kind_cluster_is_one_control_plane_and_three_workers():
    config = load(DEPLOY / "kind-config.yaml")
    assert (config["kind"], config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    roles = sorted(n["role"] for n in config["nodes"])
    assert roles == ["control-plane", "worker", "worker", "worker"]
    # The node image's minor version is the one the core objects are validated against.
    images = {n["image"] for n in config["nodes"]}
    assert len(images) == 1
    assert images.pop().startswith(f"kindest/node:v{K8S_VERSION}.")


def test_every_worker_mounts_the_nas_where_the_pv_points():
    config = load(DEPLOY / "kind-config.yaml")
    pv = _by_kind("nas.yaml")["PersistentVolume"]
    for node in config["nodes"]:
        if node["role"] == "worker":
            paths = {m["containerPath"] for m in node.get("extraMounts", [])}
            assert pv["spec"]["hostPath"]["path"] in paths


def test_nas_claim_binds_the_pv_read_write_many():
    objects = _by_kind("nas.yaml")
    pv, pvc = objects["PersistentVolume"], objects["PersistentVolumeClaim"]
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    # Both empty: a default storage class would otherwise provision a new volume for the claim.
    assert pvc["spec"]["storageClassName"] == pv["spec"]["storageClassName"] == ""
    assert pvc["spec"]["accessModes"] == pv["spec"]["accessModes"] == ["ReadWriteMany"]


def test_rbac_grants_the_executor_only_workflowtaskresults():
    objects = _by_kind("rbac.yaml")
    role, binding, account = objects["Role"], objects["RoleBinding"], objects["ServiceAccount"]
    assert role["rules"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflowtaskresults"],
            "verbs": ["create", "patch"],
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]


def test_webhook_profile_prefers_fuse_nodes():
    cm = _by_kind("fluid-webhook-plugins.yaml")["ConfigMap"]
    assert (cm["metadata"]["name"], cm["metadata"]["namespace"]) == (
        "webhook-plugins",
        "fluid-system",
    )
    profile = yaml.safe_load(cm["data"]["pluginsProfile"])
    assert "NodeAffinityWithCache" in profile["plugins"]["serverful"]["withDataset"]
    (config,) = [c for c in profile["pluginConfig"] if c["name"] == "NodeAffinityWithCache"]
    args = yaml.safe_load(config["args"])
    assert args["preferred"] == [{"name": "fluid.io/fuse", "weight": 100}]


def test_the_job_make_applies_carries_the_make_variables():
    result = subprocess.run(
        [
            "make", "--no-print-directory", "-s", "cluster-data-manifest",
            "REGISTRY=registry.example:5000/ml", "TAG=v9", "DATA_MULTIPLIER=7",
        ],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (job,) = [d for d in yaml.safe_load_all(result.stdout) if d]
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example:5000/ml/prepare-data:v9"
    args = container["args"]
    assert args[args.index("--multiplier") + 1] == "7"


def test_makefile_and_workflows_default_to_the_jobs_multiplier():
    """The defaults must meet: a workflow run needs the raw table the Job prepared."""
    (job,) = load_all(DEPLOY / "prepare-data-job.yaml")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    prepared = args[args.index("--multiplier") + 1]
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "cluster-data-manifest"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    (rendered,) = [d for d in yaml.safe_load_all(result.stdout) if d]
    rendered_args = rendered["spec"]["template"]["spec"]["containers"][0]["args"]
    assert rendered_args[rendered_args.index("--multiplier") + 1] == prepared
    for name in ("pipeline.yaml", "pipeline-with-vineyard.yaml"):
        params = load(ROOT / "workflows" / name)["spec"]["arguments"]["parameters"]
        (default,) = [p["value"] for p in params if p["name"] == "data_multiplier"]
        assert default == prepared, name
