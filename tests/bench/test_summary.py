"""The benchmark's arithmetic on made-up runs: medians over the repeats, and the chart's bars."""

import pytest
from shmpipe_bench.report import bar_parts
from shmpipe_bench.summary import PHASES, summarize


def made_up_run(variant: str, walls: tuple[float, float, float], repeat: int) -> dict:
    steps = []
    for name, wall in zip(("preprocess", "train", "evaluate"), walls, strict=True):
        step = {"name": name, "wall_s": wall, "peak_rss_bytes": 1, "other_s": 0.0}
        step |= {f"{p}_s": 0.0 for p in PHASES} | {"compute_s": wall}
        steps.append(step)
    return {
        "variant": variant,
        "multiplier": 1,
        "repeat": repeat,
        "e2e_s": sum(walls),
        "handoff_s": 0.0,
        "memcpy_s": 0.0,
        "memcpy_fresh_s": 0.0,
        "mse": 1.0,
        "steps": steps,
    }


def test_each_bar_is_as_tall_as_the_median_e2e_it_is_labelled_with():
    # Each repeat has one slow step, a different one each time: every step's median is 1 s,
    # every run's e2e 12 s. Stacked as they are, the medians would make a 3 s bar.
    runs = [
        made_up_run("vineyard", walls, r)
        for r, walls in enumerate([(10, 1, 1), (1, 10, 1), (1, 1, 10)])
    ]
    (e,) = summarize(runs)
    assert e["median"]["e2e_s"] == 12
    parts = bar_parts(e)
    assert sum(h for _, _, h in parts) == pytest.approx(12)
    # The steps keep their shares of the bar.
    by_step = {n: sum(h for m, _, h in parts if m == n) for n in ("preprocess", "train")}
    assert by_step["preprocess"] == pytest.approx(by_step["train"])


def test_medians_min_and_max_are_over_each_variants_repeats():
    runs = [made_up_run("nas", (w, 1, 1), r) for r, w in enumerate([3, 1, 2])]
    runs += [made_up_run("vineyard", (w, 1, 1), r) for r, w in enumerate([30, 10])]
    summary = {e["variant"]: e for e in summarize(runs)}
    assert summary["nas"]["repeats"] == 3 and summary["vineyard"]["repeats"] == 2
    assert summary["nas"]["median"]["preprocess.wall_s"] == 2
    assert summary["vineyard"]["median"]["preprocess.wall_s"] == 20
    assert (summary["nas"]["min"]["e2e_s"], summary["nas"]["max"]["e2e_s"]) == (3, 5)
