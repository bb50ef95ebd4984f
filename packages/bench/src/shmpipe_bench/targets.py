"""The benchmark's targets (targets.toml, one record per promise) checked against a run's medians:
each is 'met', 'not met' or 'not measured', with the numbers that decide it."""

import tomllib
from importlib.resources import files

from .summary import entry

STATUSES = ("met", "not met", "not measured")


def load() -> list[dict]:
    return tomllib.loads(files(__package__).joinpath("targets.toml").read_text())["target"]


def fmt(metric: str, value: float) -> str:
    if metric.endswith("_bytes"):
        return f"{value / 1e9:.2f} GB"
    if metric.endswith("_s"):
        return f"{value * 1e3:.0f} ms" if value < 1 else f"{value:.1f} s"
    return f"{value:.6g}"


def _check(target: dict, summary: list[dict], multiplier: int, pair: list[str], metric: str):
    """(passed, text, how close to the limit: 1 = at it) for one multiplier, pair and metric;
    None when a variant was not run."""
    kind, limit = target["kind"], target["at_most"]
    first = entry(summary, pair[0], multiplier)
    if first is None:
        return None
    if kind == "value":
        value = first["median"][metric]
        text = f"M={multiplier} {pair[0]} {metric} {fmt(metric, value)}"
        return value <= limit, text, value / limit
    second = entry(summary, pair[1], multiplier)
    if second is None:
        return None
    if kind == "same":
        ref = second["median"][metric]
        worst = max(abs(first["min"][metric] - ref), abs(first["max"][metric] - ref)) / abs(ref)
        text = f"M={multiplier} {pair[0]} vs {pair[1]}: {worst:.1e}"
        return worst <= limit, text, worst / limit
    against = target.get("against_metric", metric)
    # `of = "max"`: the first variant's worst run, for a promise about every run.
    stat = target.get("of", "median")
    a, b = first[stat][metric], second["median"][against]
    ratio = a / b if b else float("inf")
    label = pair[0] if pair[0] == pair[1] else f"{pair[0]}/{pair[1]}"
    what = metric if against == metric else f"{metric}/{against}"
    if stat != "median":
        what += f" ({stat} of {first['repeats']} runs / median)"
    text = f"M={multiplier} {label} {what}: {fmt(metric, a)} / {fmt(against, b)} = {ratio:.2f}"
    return ratio <= limit, text, ratio / limit


def evaluate(summary: list[dict], targets: list[dict] | None = None) -> list[dict]:
    measured = sorted({e["multiplier"] for e in summary})
    out = []
    for target in targets if targets is not None else load():
        at = measured if target["at"] == "all" else [m for m in target["at"] if m in measured]
        at = [m for m in at if m >= target.get("from_multiplier", 0)]
        checks = [
            c
            for m in at
            for pair in target["pairs"]
            for metric in target["metrics"]
            if (c := _check(target, summary, m, pair, metric)) is not None
        ]
        if not checks:
            where = "any M" if target["at"] == "all" else "M=" + ", ".join(map(str, target["at"]))
            if "from_multiplier" in target:
                where = f"M >= {target['from_multiplier']}"
            status, detail = "not measured", f"no runs of these variants at {where}"
        else:
            failed = [text for ok, text, _ in checks if not ok]
            status = "not met" if failed else "met"
            if failed:
                detail = "missed: " + "; ".join(failed)
            else:  # the check closest to its limit stands for all of them
                closest = max(checks, key=lambda c: c[2])[1]
                detail = closest if len(checks) == 1 else f"closest of {len(checks)}: {closest}"
        out.append(
            {"id": target["id"], "target": target["promise"], "status": status, "detail": detail}
        )
    return out
