"""deploy/ pieces that must agree with each other and with what they run on: the kind nodes' NAS
mount and the PV, the claim and the PV, RBAC and the service account, the Job and the vineyard
runtime as `make` applies them, one namespace named only by make, per-build image tags, the
vineyard images and the client's version, the vineyard quota and the run size."""

import os
import re
import subprocess
import tomllib

import kubernetes_validate
import pytest
import yaml
from argo_model import DEPLOY, K8S_VERSION, ROOT, WORKFLOWS, load, load_all


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


def _roles() -> dict:
    return {d["metadata"]["name"]: d for d in load_all(DEPLOY / "rbac.yaml") if d["kind"] == "Role"}


def test_rbac_grants_the_executor_only_workflowtaskresults():
    objects = _by_kind("rbac.yaml")
    role, binding, account = (
        _roles()["pipeline-runner-executor"],
        objects["RoleBinding"],
        objects["ServiceAccount"],
    )
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
    # No namespace: it is the binding's own (see the comment in rbac.yaml).
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"]}]


def _grants(role: dict, group: str, resource: str, verb: str) -> bool:
    return any(
        {group, "*"} & set(rule.get("apiGroups", []))
        and {resource, "*"} & set(rule.get("resources", []))
        and {verb, "*"} & set(rule.get("verbs", []))
        for rule in role["rules"]
    )


def test_a_pipeline_author_cannot_make_the_pods_the_policy_exempts():
    """deploy/pod-security.yaml exempts the pods of Fluid's vineyard StatefulSets and DaemonSet:
    an author who could create or change those, or the runtime whose images they run, or grant
    themselves more, could run privileged pods."""
    author = _roles()["pipeline-author"]
    assert _grants(author, "argoproj.io", "workflows", "create")
    assert _grants(author, "", "pods", "get") and _grants(author, "", "pods/log", "get")
    forbidden = [
        ("apps", resource, verb)
        for resource in ("statefulsets", "daemonsets", "deployments", "replicasets")
        for verb in ("create", "update", "patch")
    ]
    forbidden += [("data.fluid.io", r, v) for r in ("vineyardruntimes", "datasets")
                  for v in ("create", "update", "patch", "delete")]  # fmt: skip
    forbidden += [("rbac.authorization.k8s.io", r, v) for r in ("roles", "rolebindings")
                  for v in ("create", "update", "patch", "bind", "escalate")]  # fmt: skip
    forbidden += [("", "pods", "create"), ("", "pods/ephemeralcontainers", "update"),
                  ("", "pods/exec", "create"), ("admissionregistration.k8s.io",
                  "validatingadmissionpolicies", "update")]  # fmt: skip
    granted = [f for f in forbidden if _grants(author, *f)]
    assert not granted, granted


def test_deploy_leaves_fluids_webhook_profile_to_the_chart():
    """Placement next to a vineyard worker comes from the pods' labels and the chart's default
    profile (`required: [fluid.io/node]`), so nothing replaces Fluid's webhook-plugins ConfigMap,
    which would drop the chart's other plugins with it."""
    for path in DEPLOY.glob("*.yaml"):
        for document in load_all(path):
            assert document.get("metadata", {}).get("name") != "webhook-plugins", path.name
    assert "webhook-plugins" not in (ROOT / "Makefile").read_text()


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


# --- one namespace, named only by make ------------------------------------------------------


def _make(*args, env=None) -> str:
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", *args], cwd=ROOT, capture_output=True, text=True,
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_no_manifest_names_a_namespace():
    """`argo submit` and `kubectl apply` use the namespace they are given (make gives NAMESPACE);
    a namespace written into a manifest would send that object elsewhere."""
    documents = [(p.name, d) for p in DEPLOY.glob("*.yaml") for d in load_all(p)]
    documents += [(p.name, load(p)) for p in WORKFLOWS.values()]
    named = [f"{name}: {d['kind']}" for name, d in documents
             if "namespace" in d.get("metadata", {})]  # fmt: skip
    assert not named, named


def test_every_cluster_command_names_the_pipelines_namespace():
    """Every kubectl and argo command that make runs on the pipeline's objects names NAMESPACE;
    Argo's own settings go to Argo's namespace."""
    targets = ["cluster-namespace", "cluster-nas", "cluster-rbac", "cluster-data",
               "cluster-vineyard", "submit-nas", "submit-vineyard"]  # fmt: skip
    commands = _make("-n", *targets, "NAMESPACE=ns-under-test").splitlines()
    commands = [c for c in commands if re.match(r"\s*(kubectl|argo) ", c.split("|")[-1])]
    assert len(commands) >= 10, commands
    cluster_scoped = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
    for command in commands:
        applied = re.fullmatch(r"kubectl apply -f deploy/(\S+)", command.strip())
        if applied and {d["kind"] for d in load_all(DEPLOY / applied[1])} <= cluster_scoped:
            continue
        assert re.search(r"(-n |namespace )ns-under-test\b", command), command
    argo = _make("-n", "cluster-argo")
    assert "kubectl apply -n argo -f deploy/argo-executor.yaml" in argo
    # One shell command each, whose kubectl calls all go through KUBECTL or the script's argument.
    vineyard = _make("-n", "cluster-vineyard", "NAMESPACE=ns-under-test")
    assert vineyard.count("kubectl -n ns-under-test") == vineyard.count("kubectl") >= 4
    assert "cluster-check.sh ns-under-test" in _make(
        "-n", "cluster-check", "NAMESPACE=ns-under-test"
    )


def test_deploy_readme_names_the_namespace_in_every_command():
    text = (DEPLOY / "README.md").read_text()
    blocks = re.findall(r"```shell\n(.*?)```", text, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    commands = [line for line in lines if re.match(r"\s*(kubectl|argo) ", line)]
    assert commands
    unnamed = [c for c in commands if not re.search(r"(-n|--namespace) \S+|namespace \S+", c)]
    # Cluster-wide objects need none: the namespaces themselves, the Pod Security policy.
    unnamed = [c for c in unnamed if not re.search(r"\b(create|label\b.*) namespace\b", c)]
    unnamed = [c for c in unnamed if c.strip() != "kubectl apply -f deploy/pod-security.yaml"]
    assert not unnamed, unnamed


# --- images: a tag per build, vineyard's matching the client ---------------------------------


def test_images_are_tagged_per_build_and_the_workflows_require_the_tag():
    env = {k: v for k, v in os.environ.items() if k != "TAG"}
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    assert revision, "not a git checkout"
    tags = set(re.findall(r"-t \S+/[a-z-]+:(\S+)", _make("-n", "images", env=env)))
    assert tags == {revision}
    for path in WORKFLOWS.values():
        params = load(path)["spec"]["arguments"]["parameters"]
        (tag,) = [p for p in params if p["name"] == "tag"]
        assert "value" not in tag, f"{path.name}: a default tag would be cached under one name"


def _locked_version(name: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (version,) = [p["version"] for p in lock["package"] if p["name"] == name]
    return version


def test_vineyard_images_are_the_clients_version():
    """Fluid's default vineyardd and fuse are v0.22.2 (pkg/common/vineyard.go); the runtime pins
    the images of the vineyard the steps' client is, as v6d tags its releases (vineyardd
    `alpine-v<version>`, vineyard-fluid-fuse `v<version>`)."""
    version = _locked_version("vineyard")
    assert _locked_version("vineyard-bdist") == version
    runtime = _by_kind("vineyard.yaml")["VineyardRuntime"]["spec"]
    parts = {k: v for k, v in runtime.items() if isinstance(v, dict) and "image" in v}
    images = {k: (v["image"], v["imageTag"]) for k, v in parts.items()}
    assert images == {
        "master": ("ghcr.io/v6d-io/v6d/vineyardd", f"alpine-v{version}"),
        "worker": ("ghcr.io/v6d-io/v6d/vineyardd", f"alpine-v{version}"),
        "fuse": ("ghcr.io/v6d-io/v6d/vineyard-fluid-fuse", f"v{version}"),
    }
    # make loads exactly these into kind, and builds its own vineyardd from the same version.
    loads = _make("-n", "cluster-vineyard-images")
    assert f"ghcr.io/v6d-io/v6d/vineyardd:alpine-v{version}" in loads
    assert f"ghcr.io/v6d-io/v6d/vineyard-fluid-fuse:v{version}" in loads
    assert f"VINEYARD_VERSION={version}" in _make("-n", "vineyardd-image")


# --- vineyard memory sized from the run ------------------------------------------------------

MI = 2**20
# Fluid sets a worker pod's memory request and limit to the quota + 500Mi
# (pkg/ddc/vineyard/transform_resources.go, transformResourcesForWorker).
FLUID_WORKER_OVERHEAD_MI = 500


def _quota_mi(multiplier: int) -> int:
    (runtime,) = [
        d for d in yaml.safe_load_all(_make("cluster-vineyard-manifest",
                                             f"DATA_MULTIPLIER={multiplier}"))
        if d and d["kind"] == "VineyardRuntime"
    ]  # fmt: skip
    (level,) = runtime["spec"]["tieredstore"]["levels"]
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", level["quota"]).groups()
    return int(number) * {"Mi": 1, "Gi": 1024}[unit]


@pytest.fixture(scope="module")
def split_bytes_per_multiplier(tmp_path_factory):
    """The bytes of one run's split at multiplier 1, as preprocess writes it."""
    from tests.support.processes import run_cli

    data_dir = tmp_path_factory.mktemp("split")
    run_cli("prepare-data", "--multiplier", 1, "--data-dir", data_dir)
    run_cli("preprocess", "--sink", "nas", "--multiplier", 1, "--data-dir", data_dir,
            "--run-id", "size")  # fmt: skip
    return sum(p.stat().st_size for p in (data_dir / "runs" / "size" / "splits").iterdir())


@pytest.mark.parametrize("multiplier", [1, 100, 2000])
def test_vineyard_quota_holds_one_runs_split_without_waste(multiplier, split_bytes_per_multiplier):
    split_mi = split_bytes_per_multiplier * multiplier / MI
    quota = _quota_mi(multiplier)
    assert quota >= 1.15 * split_mi + 128, (quota, split_mi)
    assert quota <= 1.5 * split_mi + 512, (quota, split_mi)


def test_the_applied_quota_is_the_files_for_the_default_multiplier():
    (runtime,) = [d for d in load_all(DEPLOY / "vineyard.yaml") if d["kind"] == "VineyardRuntime"]
    (level,) = runtime["spec"]["tieredstore"]["levels"]
    default = re.search(r"^DATA_MULTIPLIER \?= (\d+)$", (ROOT / "Makefile").read_text(), re.M)
    assert level["quota"] == f"{_quota_mi(int(default.group(1)))}Mi"


def test_deploy_readme_states_the_worker_memory_make_gives():
    """deploy/README.md's table of vineyard memory per run size is what make applies."""
    text = (DEPLOY / "README.md").read_text()
    for multiplier in (100, 2000):
        quota = _quota_mi(multiplier)
        row = re.search(rf"^\| {multiplier} \| ([0-9]+)(Mi|Gi) \| ([0-9]+)Mi \|", text, re.M)
        assert row, f"deploy/README.md has no row for M={multiplier}"
        written = int(row.group(1)) * {"Mi": 1, "Gi": 1024}[row.group(2)]
        assert (written, int(row.group(3))) == (quota, quota + FLUID_WORKER_OVERHEAD_MI)


# --- facts in comments ------------------------------------------------------------------------


def test_every_repository_file_a_deploy_or_workflow_file_names_exists():
    """A comment or doc pointing at a file that is gone sends the reader nowhere."""
    files = [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.md"), *DEPLOY.rglob("*.sh"),
             *(ROOT / "workflows").rglob("*.py"), *(ROOT / "workflows").rglob("*.md"),
             *WORKFLOWS.values(), ROOT / "Makefile"]  # fmt: skip
    named = re.compile(r"(?<![\w./-])((?:deploy|workflows|tests|packages|bench)/[\w./-]*\w)")
    missing = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in named.findall(path.read_text())
        if not (ROOT / name).exists() and "*" not in name and "/." not in name
    ]
    assert not missing, missing


def test_no_comment_gives_fluids_socket_a_wrong_name():
    """Fluid's worker socket is vineyard-worker.sock (charts/vineyard/templates/worker/
    statefulset.yaml), vineyard-local.sock when the fuse runs its own vineyardd (v6d
    docker/vineyard-fluid-fuse/entrypoint.sh); never vineyard.sock."""
    files = [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*Dockerfile"), *DEPLOY.rglob("*.md"),
             *WORKFLOWS.values()]  # fmt: skip
    wrong = []
    for path in files:
        lines = path.read_text().splitlines()
        for i in range(len(lines)):
            window = " ".join(lines[max(0, i - 1) : i + 2])
            prose = path.suffix == ".md" or lines[i].lstrip().startswith("#")
            if prose and "Fluid" in window and re.search(r"\bvineyard\.sock\b", lines[i]):
                wrong.append(f"{path.relative_to(ROOT)}:{i + 1}: {lines[i].strip()}")
    assert not wrong, wrong


def test_fluid_is_installed_at_the_chart_version_the_notes_name():
    """Fluid's chart changes what the runtime's pods look like (their names, labels, memory): an
    unpinned install could differ from the source the policy and the quota were written for."""
    version = re.search(r"^FLUID_CHART_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert version, "the Makefile pins no Fluid chart version"
    assert f"--version {version.group(1)} " in _make("-n", "cluster-fluid")
    assert f"chart {version.group(1)}" in (DEPLOY / "NOTES.md").read_text()
