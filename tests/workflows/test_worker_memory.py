"""The vineyard worker gets its memory request and limit at every run size make can apply.

Fluid sets both to quota + 500Mi, and its chart prints each only if the value is `lt` the quota,
which Go's text/template compares as strings. gotemplate/main.go runs that comparison with Go's
own text/template (Debian's golang-go); deploy/vineyard-quota.sh writes the quota make applies.
"""

import shutil
import subprocess

import pytest
import yaml
from argo_model import DEPLOY, ROOT

from tests.support.ci import require

SCRIPT = DEPLOY / "vineyard-quota.sh"
MI = {"Mi": 1, "Gi": 1024}
# Past the largest run the script accepts, so that its refusals are checked too.
MULTIPLIERS = range(1, 6001)


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    """quota -> (request, limit) as Fluid's chart prints them; "" where it prints none."""
    go = shutil.which("go")
    require(go is not None, "Go (Debian's golang-go) to run the chart's text/template test")
    binary = tmp_path_factory.mktemp("gotemplate") / "gotemplate"
    subprocess.run([go, "build", "-o", binary, "main.go"], cwd=ROOT / "tests/workflows/gotemplate",
                   check=True, env={"GO111MODULE": "off", "HOME": str(binary.parent),
                                    "PATH": "/usr/bin:/bin"})  # fmt: skip

    def run(quotas):
        result = subprocess.run([binary], input="".join(f"{q}\n" for q in quotas),
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, result.stderr
        rows = [line.split("\t") for line in result.stdout.splitlines()]
        return {quota: (request, limit) for quota, request, limit in rows}

    return run


def mi(quantity: str) -> int:
    return int(quantity[:-2]) * MI[quantity[-2:]]


def script_quotas() -> dict:
    """multiplier -> the script's quota, or None where it refuses; one shell for all of them."""
    loop = (f"source {SCRIPT}; for m in $(seq {MULTIPLIERS[0]} {MULTIPLIERS[-1]}); do "
            "echo \"$m $(vineyard_quota $m 2>/dev/null || echo -)\"; done")  # fmt: skip
    result = subprocess.run(["bash", "-c", loop], capture_output=True, text=True, check=True)
    return {
        int(m): (None if q == "-" else q) for m, q in map(str.split, result.stdout.splitlines())
    }


def test_every_quota_the_script_gives_sizes_the_worker(render):
    quotas = script_quotas()
    given = {m: q for m, q in quotas.items() if q}
    rendered = render(sorted(set(given.values())))
    for multiplier, quota in given.items():
        memory = (
            f"{mi(quota) + 500}Mi" if (mi(quota) + 500) % 1024 else f"{(mi(quota) + 500) // 1024}Gi"
        )
        assert rendered[quota] == (memory, memory), (multiplier, quota)
        assert mi(quota) >= multiplier * 4 + 256, (multiplier, quota)
    refused = sorted(m for m, q in quotas.items() if q is None)
    # Refused exactly from the first size whose quota would pass 20Gi.
    assert refused == [m for m in MULTIPLIERS if m * 4 + 256 > 20 * 1024], refused[:3]


def _make_quota(multiplier) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-s", "cluster-vineyard-manifest",
         f"DATA_MULTIPLIER={multiplier}"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("multiplier", [1, 10, 100, 300, 1000, 2000, 5056])
def test_the_runtime_make_applies_sizes_the_worker(render, multiplier):
    result = _make_quota(multiplier)
    assert result.returncode == 0, result.stderr
    (runtime,) = [
        d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "VineyardRuntime"
    ]
    (level,) = runtime["spec"]["tieredstore"]["levels"]
    request, limit = render([level["quota"]])[level["quota"]]
    assert request and limit, f"M={multiplier}: quota {level['quota']} leaves the worker BestEffort"


@pytest.mark.parametrize(
    "args", [["5057"], ["0"], ["1x"], ["1", "21Gi"], ["1", "400Mi"], ["1", "1024Mi"]]
)
def test_a_size_the_chart_would_get_wrong_is_refused_in_one_line(args):
    result = subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True)
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    made = _make_quota(args[0]) if len(args) == 1 else subprocess.run(
        ["make", "-s", "cluster-vineyard-manifest", f"VINEYARD_QUOTA={args[1]}"],
        cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert made.returncode != 0 and "vineyard-quota.sh:" in made.stderr
