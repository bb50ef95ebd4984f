"""From raw benchmark runs to medians (with min and max) per variant and multiplier.

Phases, as each step records them (shmpipe_core.metrics): startup (process start to main:
interpreter, imports; plus any wait for an import started beside the load), connect (opening the
store, per pod like start-up), load, allocate, private_copy, page_in, compute, save. `compute` is
the same code for every store of a method; whatever a store makes a step do is one of the other
phases, and the handoff counts those.
"""

import statistics
from collections import defaultdict

from shmpipe_core.step_contract import STEPS

from .variants import NAMES

PHASES = ("startup", "connect", "load", "allocate", "private_copy", "page_in", "compute", "save")
# What moving the split between steps costs: the phases a store adds, step by step.
HANDOFF_PHASES = {
    "preprocess": ("allocate", "save"),
    "train": ("load", "private_copy", "page_in"),
    "evaluate": ("load", "page_in"),
}
GB = 10**9


def seconds(x: float) -> str:
    """Seconds, with the precision a reader needs at that size."""
    if x < 0.1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def handoff_seconds(phases_by_step: dict[str, dict[str, float]]) -> float:
    return sum(
        phases_by_step[step].get(phase, 0.0)
        for step, phases in HANDOFF_PHASES.items()
        for phase in phases
    )


def run_metrics(run: dict) -> dict[str, float]:
    """The scalar figures of one run that the summary takes medians of."""
    steps = {s["name"]: s for s in run["steps"]}
    train = steps["train"]
    out = {
        "e2e_s": run["e2e_s"],
        "handoff_s": run["handoff_s"],
        "memcpy_s": run["memcpy_s"],
        "memcpy_fresh_s": run["memcpy_fresh_s"],
        "mse": run["mse"],
        "vineyardd_start_s": run.get("vineyardd", {}).get("start_s", 0.0),
        # Train's whole path to a fitted model: whatever the store makes it do, and the fit.
        "train_fit_s": sum(train[f"{p}_s"] for p in (*HANDOFF_PHASES["train"], "compute")),
        "train_load_s": train["load_s"],
        "evaluate_load_s": steps["evaluate"]["load_s"],
        "max_peak_rss_bytes": max(s["peak_rss_bytes"] for s in steps.values()),
    }
    if run.get("fit_methods"):
        fits = run["fit_methods"]
        out["fit_kernel_s"] = fits["kernel_s"]
        # What train did before its kernel: a private copy, then scikit-learn's fit.
        out["fit_sklearn_s"] = fits["sklearn_copy_s"] + fits["sklearn_fit_s"]
    for name, step in steps.items():
        out[f"{name}.pod_startup_s"] = step["startup_s"] + step["connect_s"]
        out[f"{name}.wall_s"] = step["wall_s"]
        out[f"{name}.other_s"] = step["other_s"]
        out[f"{name}.peak_rss_bytes"] = step["peak_rss_bytes"]
        out[f"{name}.peak_private_bytes"] = step.get("record", {}).get("peak_private_bytes", 0)
        for key in ("user_s", "system_s", "minor_faults", "major_faults"):
            out[f"{name}.{key}"] = step.get(key, 0)
        for phase in PHASES:
            out[f"{name}.{phase}_s"] = step[f"{phase}_s"]
        out[f"{name}.handoff_s"] = sum(step[f"{p}_s"] for p in HANDOFF_PHASES[name])
    return out


def summarize(runs: list[dict]) -> list[dict]:
    """One entry per variant and multiplier: `median`, `min` and `max` of every run metric."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[(run["variant"], run["multiplier"])].append(run_metrics(run))
    summary = []
    for (variant, multiplier), metrics in sorted(
        groups.items(), key=lambda kv: (kv[0][1], NAMES.index(kv[0][0]))
    ):
        keys = metrics[0]
        summary.append(
            {
                "variant": variant,
                "multiplier": multiplier,
                "repeats": len(metrics),
                "median": {k: statistics.median(m[k] for m in metrics) for k in keys},
                "min": {k: min(m[k] for m in metrics) for k in keys},
                "max": {k: max(m[k] for m in metrics) for k in keys},
            }
        )
    return summary


def entry(summary: list[dict], variant: str, multiplier: int) -> dict | None:
    return next(
        (e for e in summary if e["variant"] == variant and e["multiplier"] == multiplier), None
    )


def ratios(summary: list[dict], baseline: str = "vineyard") -> list[dict]:
    """Each variant's median e2e and handoff over the baseline's, per multiplier (above 1: the
    variant is slower than vineyard by that factor)."""
    out = []
    for multiplier in sorted({e["multiplier"] for e in summary}):
        base = entry(summary, baseline, multiplier)
        if base is None:
            continue
        for e in summary:
            if e["multiplier"] != multiplier:
                continue
            row = {"multiplier": multiplier, "variant": e["variant"]}
            for key in ("e2e_s", "handoff_s", "train_fit_s", *(f"{n}.wall_s" for n in STEPS)):
                b = base["median"][key]
                row[key] = e["median"][key] / b if b else None
            out.append(row)
    return out
