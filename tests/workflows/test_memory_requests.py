"""Each step's memory request covers its peak as the benchmark measured it at the default
data_multiplier and stays within its limit; the request workflows/README.md gives for 2000, and
the limit, cover the peak measured at 2000; the README's table matches the workflows."""

import re

import pytest
from argo_model import ROOT, WORKFLOWS, load, resolved_templates

STEPS = ["preprocess-data", "train-data", "test-data"]
RESULTS = {
    100: ROOT / "bench/results/2core-24g-fluid/results.md",
    2000: ROOT / "bench/results/2core-24g-m2000-fluid/results.md",
}
UNITS = {"Mi": 2**20, "Gi": 2**30}


def quantity(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", text).groups()
    return int(number) * UNITS[unit]


def measured_peaks(multiplier: int) -> dict[str, float]:
    """Bytes: each step's largest peak RSS over the nas and vineyard variants of the results'
    summary table (column `peak RSS GB (pre/train/eval)`)."""
    peaks = dict.fromkeys(STEPS, 0.0)
    column = None
    for line in RESULTS[multiplier].read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if column is None and "peak RSS GB (pre/train/eval)" in cells:
            column = cells.index("peak RSS GB (pre/train/eval)")
        elif column is not None and not line.startswith("|"):
            break  # the end of the table
        elif column is not None and cells[0] == str(multiplier) and cells[1] in ("nas", "vineyard"):
            values = cells[column].split("/")
            for step, value in zip(STEPS, values, strict=True):
                peaks[step] = max(peaks[step], float(value) * 1e9)
    assert all(peaks.values()), f"no nas/vineyard rows at M={multiplier} in {RESULTS[multiplier]}"
    return peaks


def readme_table() -> dict[str, list[str]]:
    text = (ROOT / "workflows/README.md").read_text()
    section = text.split("## Memory requests", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in STEPS:
            rows[cells[0]] = cells[1:]
    assert set(rows) == set(STEPS), "workflows/README.md's memory table lacks a step"
    return rows


@pytest.mark.parametrize("workflow", sorted(WORKFLOWS))
def test_requests_cover_the_default_run_and_stay_within_the_limits(workflow):
    templates = resolved_templates(load(WORKFLOWS[workflow]))
    at_100, at_2000 = measured_peaks(100), measured_peaks(2000)
    for step, (request, request_2000, limit) in readme_table().items():
        resources = templates[step]["container"]["resources"]
        assert resources["requests"]["memory"] == request, step
        assert resources["limits"]["memory"] == limit, step
        assert at_100[step] <= quantity(request) <= quantity(limit), step
        assert at_2000[step] <= quantity(request_2000) <= quantity(limit), step
