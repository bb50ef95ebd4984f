"""`make cluster-vineyard` with a new quota recreates the runtime (Fluid never resizes a running
one) and says that this drops vineyard's objects; with the same quota it only applies.

No cluster runs here: `kubectl` is a stand-in on PATH that answers the runtime's current quota
and records every call, so what is checked is the commands make sends, not Fluid's response.
"""

import os
import subprocess

import pytest
from argo_model import ROOT

STAND_IN = """#!/bin/sh
echo "$*" >> "$KUBECTL_LOG"
case "$*" in
  *"get vineyardruntime vineyard"*) printf '%s' "$CURRENT_QUOTA" ;;
  *"apply -f -"*) cat >> "$KUBECTL_LOG" ;;
esac
"""


def _make(tmp_path, current: str, multiplier: int):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(STAND_IN)
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KUBECTL_LOG": str(log),
           "CURRENT_QUOTA": current}  # fmt: skip
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "cluster-vineyard", f"DATA_MULTIPLIER={multiplier}"],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout, log.read_text()


def test_a_new_quota_recreates_the_runtime_and_says_it_drops_the_data(tmp_path):
    out, calls = _make(tmp_path, "656Mi", 2000)
    assert "drops every object" in out
    delete = calls.index("delete dataset/vineyard vineyardruntime/vineyard")
    assert delete < calls.index("apply -f -")
    assert "quota: 9Gi" in calls


@pytest.mark.parametrize(("current", "multiplier"), [("656Mi", 100), ("", 100), ("9Gi", 2000)])
def test_the_same_quota_or_no_runtime_only_applies(tmp_path, current, multiplier):
    out, calls = _make(tmp_path, current, multiplier)
    assert "delete" not in calls and "drops" not in out
    assert "apply -f -" in calls
