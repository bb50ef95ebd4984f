"""From raw benchmark runs to medians (with min and max) per variant and multiplier.

Phases, as each step records them (shmpipe_core.metrics): startup (process start to main:
interpreter, imports; plus any wait for an import started beside the load), connect (opening the
store, per pod like start-up), load, allocate, private_copy, page_in, compute, save. `compute` is
the same code for every store of a method; whatever a store makes a step do is one of the other
phases, and the handoff counts those.
"""

import statistics
from collections import defaultdict

from shmpipe_core.partitions import stage_of, step_name
from shmpipe_core.step_contract import MERGED, STEPS

from .variants import rank

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


def handoff_seconds(phases_by_process: dict[str, dict[str, float]]) -> float:
    """The handoff of a run: per step, its store phases; a partitioned step's processes run at
    once, so each step counts with its slowest process's, as its wall time does."""
    longest: dict[str, float] = {}
    for name, phases in phases_by_process.items():
        stage = stage_of(name)
        if stage is None:
            continue
        seconds = sum(phases.get(phase, 0.0) for phase in HANDOFF_PHASES[stage])
        longest[stage] = max(longest.get(stage, 0.0), seconds)
    return sum(longest.values())


def processes(e: dict) -> list[str]:
    """A summary entry's processes in run order: the three steps, or for P partitions each
    step's P processes, train's and evaluate's followed by their merge."""
    partitions = e.get("partitions", 1)
    if partitions == 1:
        return list(STEPS)
    names = []
    for step in STEPS:
        names += [step_name(step, k) for k in range(partitions)]
        if step in MERGED:
            names.append(step_name(step, None, merge=True))
    return names


def _private(step: dict) -> int:
    """A process's peak private memory, as the step recorded it (0 where it did not)."""
    return step.get("record", {}).get("peak_private_bytes", 0)


def _held(step: dict) -> int:
    """What a process's data cost it: its peak RSS above its RSS at start (interpreter, code)."""
    return step["peak_rss_bytes"] - step.get("record", {}).get("start_rss_bytes", 0)


def _process_metrics(name: str, step: dict) -> dict[str, float]:
    stage = stage_of(name)
    out = {
        f"{name}.pod_startup_s": step["startup_s"] + step["connect_s"],
        f"{name}.wall_s": step["wall_s"],
        f"{name}.other_s": step["other_s"],
        f"{name}.peak_rss_bytes": step["peak_rss_bytes"],
        f"{name}.peak_private_bytes": _private(step),
        f"{name}.held_rss_bytes": _held(step),
    }
    for key in ("user_s", "system_s", "minor_faults", "major_faults"):
        out[f"{name}.{key}"] = step.get(key, 0)
    for phase in PHASES:
        out[f"{name}.{phase}_s"] = step[f"{phase}_s"]
    handoff = HANDOFF_PHASES[stage] if stage else ()
    out[f"{name}.handoff_s"] = sum(step[f"{p}_s"] for p in handoff)
    return out


def _train_fit(step: dict) -> float:
    """Train's whole path to a fitted model: whatever the store makes it do, and the fit."""
    return sum(step[f"{p}_s"] for p in (*HANDOFF_PHASES["train"], "compute"))


def run_metrics(run: dict) -> dict[str, float]:
    """The scalar figures of one run that the summary takes medians of.

    A partitioned run's figures per step (`train.wall_s`, `train.peak_rss_bytes`, ...) are its
    slowest process's times and its largest process's memory (the merges apart, under their own
    names); each process's own figures are kept under its name (`train-1.wall_s`).
    """
    steps = {s["name"]: s for s in run["steps"]}
    maps: dict[str, list[dict]] = defaultdict(list)
    for name, step in steps.items():
        if (stage := stage_of(name)) is not None:
            maps[stage].append(step)
    out = {
        "e2e_s": run["e2e_s"],
        "elapsed_s": run.get("elapsed_s", run["e2e_s"]),
        "cpu_s": sum(s.get("user_s", 0) + s.get("system_s", 0) for s in steps.values()),
        "merge_s": sum(s["wall_s"] for n, s in steps.items() if stage_of(n) is None),
        "handoff_s": run["handoff_s"],
        "memcpy_s": run["memcpy_s"],
        "memcpy_fresh_s": run["memcpy_fresh_s"],
        "mse": run["mse"],
        "vineyardd_start_s": (run.get("vineyardd") or {}).get("start_s", 0.0),
        "train_fit_s": max(_train_fit(s) for s in maps["train"]),
        "train_load_s": max(s["load_s"] for s in maps["train"]),
        "evaluate_load_s": max(s["load_s"] for s in maps["evaluate"]),
        "max_peak_rss_bytes": max(s["peak_rss_bytes"] for s in steps.values()),
        "max_map_peak_rss_bytes": max(
            s["peak_rss_bytes"] for group in maps.values() for s in group
        ),
        "max_map_peak_private_bytes": max(_private(s) for group in maps.values() for s in group),
    }
    if run.get("fit_methods"):
        fits = run["fit_methods"]
        out["fit_kernel_s"] = fits["kernel_s"]
        # What train did before its kernel: a private copy, then scikit-learn's fit.
        out["fit_sklearn_s"] = fits["sklearn_copy_s"] + fits["sklearn_fit_s"]
    for stage, group in maps.items():
        slowest = max(group, key=lambda s: s["wall_s"])
        out |= _process_metrics(stage, slowest)
        out[f"{stage}.peak_rss_bytes"] = max(s["peak_rss_bytes"] for s in group)
        out[f"{stage}.peak_private_bytes"] = max(_private(s) for s in group)
        out[f"{stage}.held_rss_bytes"] = max(_held(s) for s in group)
    if run.get("partitions", 1) > 1:
        for name, step in steps.items():
            out |= _process_metrics(name, step)
    return out


def summarize(runs: list[dict]) -> list[dict]:
    """One entry per variant and multiplier: `median`, `min` and `max` of every run metric."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    partitions: dict[str, int] = {}
    for run in runs:
        groups[(run["variant"], run["multiplier"])].append(run_metrics(run))
        partitions[run["variant"]] = run.get("partitions", 1)
    summary = []
    for (variant, multiplier), metrics in sorted(
        groups.items(), key=lambda kv: (kv[0][1], rank(kv[0][0]))
    ):
        keys = metrics[0]
        summary.append(
            {
                "variant": variant,
                "multiplier": multiplier,
                "partitions": partitions[variant],
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
