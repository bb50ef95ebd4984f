"""deploy/cluster-check.sh (make cluster-check) finds what it is for: two vineyard workers on one
node (the chart's anti-affinity never matches, so nothing here can prevent it), a worker without
its memory, a pod that breaks "restricted", a probe the cluster admits.

No cluster runs here: `kubectl` is a stand-in on PATH answering as a cluster would, from the
environment; what is checked is the script's reading of those answers.
"""

import json
import os
import subprocess

import pytest
from argo_model import DEPLOY

STAND_IN = r"""#!/bin/bash
args="$*"
case "$args" in
  *"get vineyardruntime vineyard -o jsonpath={.spec.replicas}"*) echo 2 ;;
  *"get vineyardruntime vineyard"*) printf '%s' "$QUOTA" ;;
  *"get pods -l app=vineyard,role=vineyard-worker"*) printf '%b' "$WORKERS" ;;
  *"get namespace"*) echo "$NS_LABELS" ;;
  *"label --dry-run=server"*) printf '%b' "$PSA_WARNINGS" >&2 ;;
  *"get validatingadmissionpolicy"*) ;;
  *"create --dry-run=server"*)
    file=${@: -1}
    if grep -q "$ADMITTED" "$file"; then exit 0; fi
    echo "The pods is invalid: ValidatingAdmissionPolicy 'x' denied request" >&2; exit 1 ;;
  *"patch pod"*) echo "ValidatingAdmissionPolicy 'x' denied request" >&2; exit 1 ;;
esac
"""
GOOD_WORKERS = (
    "vineyard-worker-0 kind-worker2 Running 1156Mi 1156Mi\\n"
    "vineyard-worker-1 kind-worker3 Running 1156Mi 1156Mi\\n"
)
NS_LABELS = json.dumps({
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/enforce": "privileged",
    "pod-security.kubernetes.io/warn": "restricted",
    "shmpipe.io/restricted-pods": "enforce",
}, separators=(",", ":"))  # fmt: skip
FLUID_WARNINGS = (
    'Warning: existing pods in namespace "shmpipe" violate the new PodSecurity enforce level\\n'
    "Warning: vineyard-fuse-x7k2p (and 1 other pod): privileged, hostPath volumes\\n"
    "Warning: vineyard-worker-0 (and 1 other pod): hostPath volumes\\n"
)


def _check(tmp_path, **answers):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(STAND_IN)
    (bin_dir / "kubectl").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "QUOTA": "656Mi",
           "WORKERS": GOOD_WORKERS, "PSA_WARNINGS": FLUID_WARNINGS,
           "ADMITTED": "name: probe-restricted", "NS_LABELS": NS_LABELS, **answers}  # fmt: skip
    return subprocess.run(["bash", DEPLOY / "cluster-check.sh", "shmpipe"], capture_output=True,
                          text=True, env=env)  # fmt: skip


def test_a_healthy_deployment_passes(tmp_path):
    result = _check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "probe privileged debug container rejected" in result.stdout


@pytest.mark.parametrize(
    ("answers", "finding"),
    [
        ({"WORKERS": GOOD_WORKERS.replace("kind-worker3", "kind-worker2")}, "share a node"),
        (
            {"WORKERS": GOOD_WORKERS.replace("1156Mi 1156Mi\\n", "  \\n", 1)},
            "memory request 'none'",
        ),
        ({"QUOTA": "9Gi"}, "not 9716Mi"),
        ({"NS_LABELS": "{}"}, "lacks"),
        ({"PSA_WARNINGS": FLUID_WARNINGS + "Warning: debug-pod: privileged\\n"}, "debug-pod"),
        ({"ADMITTED": "name: probe-"}, "admitted, expected rejected"),
    ],
)
def test_each_problem_fails_the_check(tmp_path, answers, finding):
    result = _check(tmp_path, **answers)
    assert result.returncode == 1
    assert finding in result.stdout, result.stdout
