"""The KFP part of workflows/README.md: the setup it gives works in the order it gives it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Running on Kubeflow Pipelines (kind)"
FENCED = re.compile(r"^```shell\n(.*?)^```", re.M | re.S)


def kfp_setup_commands() -> list[str]:
    """The shell lines of the KFP section, in order, with `\\` continuations joined."""
    text = (ROOT / "workflows" / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = []
    for block in FENCED.findall(section):
        lines += block.replace("\\\n", " ").splitlines()
    return [line.split(" #", 1)[0].strip() for line in lines if line.strip()]


def test_kubeflow_enforces_privileged_before_the_vineyard_runtime_is_created():
    """KFP 2.17.0 creates its namespace with Pod Security `enforce: baseline`
    (manifests/kustomize/cluster-scoped-resources/namespace.yaml); Fluid's vineyard fuse is
    privileged and its worker mounts a hostPath (charts/vineyard/templates/fuse/daemonset.yaml,
    worker/statefulset.yaml), which "baseline" rejects. So the namespace must be relabelled before
    the Dataset and runtime are made there, or the Dataset never binds."""
    commands = kfp_setup_commands()
    vineyard = next(
        i
        for i, c in enumerate(commands)
        if c.startswith("make ") and "cluster-vineyard " in c + " " and "NAMESPACE=kubeflow" in c
    )
    relabel = [
        i
        for i, c in enumerate(commands)
        if re.match(r"kubectl label (--overwrite )?namespace kubeflow\b", c)
        and "pod-security.kubernetes.io/enforce=privileged" in c.split()
    ]
    assert relabel and relabel[0] < vineyard, commands


def test_the_mse_is_found_at_read_mse_not_as_a_run_output():
    """KFP 2.17.0 records no value for a run's top-level outputs (backend/src/v2/driver/
    root_dag.go publishes none; resolve.go resolves a DAG's outputs only for a consumer), so the
    docs must send the reader to read-mse's output parameter, not to an output of the run."""
    text = (ROOT / "workflows" / "README.md").read_text()
    assert "run's output `mse`" not in text and "pipeline output `mse`" not in text
    assert "the output parameter `mse` of the run's `read-mse` task" in " ".join(text.split())
