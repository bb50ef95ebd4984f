"""The benchmark's outputs: results.json (everything), results.md (tables), results.png (the
variants per M) and scaling.png (e2e and peak RSS against M)."""

import json
from pathlib import Path

from shmpipe_core.partitions import step_name
from shmpipe_core.step_contract import STEPS

from . import scaling
from .summary import GB, HANDOFF_PHASES, PHASES, entry, processes
from .summary import seconds as _s
from .variants import lookup

RAW_MODES = {
    "warm": "read into the page cache",
    "cold": "evicted from the page cache",
    None: "left as found in the page cache",
}
# The chart's stack: what a pod pays to start, the store's work (the handoff), the step's own
# work, and the rest (process exit).
SEGMENTS = {
    "start-up (interpreter, imports, connect)": "#bdbdbd",
    "handoff (the store's phases)": "#1f77b4",
    "compute (the same code for both stores)": "#ff7f0e",
    "other (exit)": "#eeeeee",
    "merge (partitioned: train's, evaluate's)": "#9edae5",
}


def rerender(out: Path) -> dict:
    """Recompute summary, ratios and targets from the raw runs in DIR/results.json and rewrite
    the outputs (after a change to the report, without rerunning the benchmark)."""
    from . import targets
    from .summary import ratios, summarize

    results = json.loads((Path(out) / "results.json").read_text())
    results["summary"] = summarize(results["runs"])
    results["ratios"] = ratios(results["summary"])
    results["targets"] = targets.evaluate(results["summary"])
    write_results(out, results)
    return results


def write_results(out: Path, results: dict) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown(results))
    chart(results, out / "results.png")
    scaling.chart(results["summary"], out / "scaling.png")


def _range(e: dict, key: str) -> str:
    return f"{_s(e['median'][key])} ({_s(e['min'][key])}–{_s(e['max'][key])})"


def _gb(nbytes: float) -> str:
    return f"{nbytes / GB:.2f}"


def machine_line(m: dict) -> str:
    return (
        f"{m['cpu_model']}, {m['cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB RAM, "
        f"/dev/shm {m['dev_shm_bytes'] / 2**30:.0f} GiB, kernel {m['kernel']}, "
        f"Python {m['python']}; data dir on {m['data_dir_filesystem']}; {m['date']}; "
        f"load average {'/'.join(map(str, m['load_average']))} at start, "
        f"{'/'.join(map(str, m.get('load_average_end', [])))} at end, 1-minute load "
        f"{'–'.join(map(str, m.get('load_average_1m_during', [])))} before the runs; the "
        f"benchmark's own peak RSS (steps report their own, VmHWM) "
        f"{m.get('bench_process_peak_rss_bytes', 0) / 2**20:.0f} MiB"
    )


def segments(e: dict, step: str) -> dict[str, float]:
    """A step's median wall time in the chart's four parts."""
    med = e["median"]
    startup = med[f"{step}.startup_s"] + med[f"{step}.connect_s"]
    handoff = med[f"{step}.handoff_s"]
    # Phases not in the three (preprocess's raw read, train's save) count as the step's own work.
    own = set(PHASES) - {"startup", "connect", "compute", *HANDOFF_PHASES[step]}
    compute = med[f"{step}.compute_s"] + sum(med[f"{step}.{p}_s"] for p in own)
    other = max(0.0, med[f"{step}.wall_s"] - startup - handoff - compute)
    return dict(zip(list(SEGMENTS)[:4], (startup, handoff, compute, other), strict=True))


def bar_parts(e: dict) -> list[tuple[str, str, float]]:
    """The chart's stacked bar for one variant: (step, part, height) from preprocess at the bottom;
    a partitioned step as its slowest process, then its merge.

    Each step's parts are medians taken one by one, and a sum of medians is not the median of the
    sums: summed, they can miss the median e2e by several percent. The parts are scaled together
    so the bar is as tall as the median e2e it is labelled with, and bars compare as their e2e do.
    """
    merge = list(SEGMENTS)[4]
    parts = []
    for n in STEPS:
        parts += [(n, label, h) for label, h in segments(e, n).items()]
        merged = step_name(n, None, merge=True)
        if f"{merged}.wall_s" in e["median"]:
            parts.append((merged, merge, e["median"][f"{merged}.wall_s"]))
    total = sum(h for _, _, h in parts)
    scale = e["median"]["e2e_s"] / total if total else 0.0
    return [(n, label, h * scale) for n, label, h in parts]


def fit_gain(summary: list[dict]) -> list[str]:
    """Train's gain over NAS split into the handoff's part and the fit method's part, from the
    same runs: the handoff from the step records, the fit methods timed on vineyard's arrays."""
    rows = []
    for e in summary:
        nas = entry(summary, "nas", e["multiplier"])
        if e["variant"] != "vineyard" or "fit_kernel_s" not in e["median"] or nas is None:
            continue
        med = e["median"]
        rows.append(
            f"| {e['multiplier']} | {_range(nas, 'train.handoff_s')} | "
            f"{_range(e, 'train.handoff_s')} | {_range(e, 'fit_sklearn_s')} | "
            f"{_range(e, 'fit_kernel_s')} | {med['fit_sklearn_s'] / med['fit_kernel_s']:.1f}x |"
        )
    if not rows:
        return []
    return [
        "",
        "## Where train's gain comes from",
        "",
        "Handoff: train's load + private_copy + page_in, NAS (cold) against vineyard. Fit: after "
        "each vineyard run, on the arrays vineyard handed over, scikit-learn's fit (a private "
        "copy, then LinearRegression) against train's least-squares kernel (read in place).",
        "",
        "| M | train handoff NAS | train handoff vineyard | fit scikit-learn | fit kernel "
        "| kernel gain |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


PARTITIONED_NOTE = (
    " A partitioned variant (-pN) runs each step as N processes at once, then train's and "
    "evaluate's merges: its e2e counts each step as its slowest process, plus the merges (as a "
    "cluster with a node per partition runs it, but measured with the processes sharing this "
    "machine's cores); its step figures are its slowest process's times and its largest "
    "process's memory."
)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "–"


def partitions_section(summary: list[dict]) -> list[str]:
    """Each partitioned variant against its store's one-partition variant, from the same runs:
    end to end, each step's largest process's memory, and the MSE."""
    pairs = [
        (e, whole)
        for e in summary
        if e.get("partitions", 1) > 1
        and (whole := entry(summary, lookup(e["variant"]).whole, e["multiplier"])) is not None
    ]
    if not pairs:
        return []
    lines = [
        "",
        "## Partitions: against the same store at P=1",
        "",
        "e2e: each step as its slowest process, plus the merges, as a cluster with a node per "
        "partition runs them; here the processes of a step share this machine's cores, so it "
        "is an upper bound for such a cluster. elapsed here: this machine's clock from the "
        "first process's start to the last's exit (the untimed cache control between steps "
        "left out). CPU: user + system of every process. MSE: the largest relative difference "
        "of any run's from the P=1 variant's median.",
        "",
        "| M | variant | e2e | P=1 e2e | x P=1 | elapsed here | merges | CPU | P=1 CPU "
        "| MSE rel. diff |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e, whole in pairs:
        ref = whole["median"]["mse"]
        diff = max(abs(e["min"]["mse"] - ref), abs(e["max"]["mse"] - ref)) / abs(ref)
        lines.append(
            f"| {e['multiplier']} | {e['variant']} | {_range(e, 'e2e_s')} | "
            f"{_range(whole, 'e2e_s')} | {_ratio(e['median']['e2e_s'], whole['median']['e2e_s'])} "
            f"| {_range(e, 'elapsed_s')} | {_range(e, 'merge_s')} | {_s(e['median']['cpu_s'])} "
            f"| {_s(whole['median']['cpu_s'])} | {diff:.1e} |"
        )
    lines += [
        "",
        "Each step's largest process (of the N at once) against the P=1 step, medians; the "
        "largest run's ratio in brackets. held: peak RSS above the process's RSS at start "
        "(interpreter and code loaded, no data yet): what its data cost it.",
        "",
        "| M | variant | step | peak RSS GB | P=1 | ratio (max) | held GB | P=1 | ratio (max) "
        "| peak private GB | P=1 | ratio (max) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e, whole in pairs:
        for n in STEPS:
            cells = []
            keys = (f"{n}.peak_rss_bytes", f"{n}.held_rss_bytes", f"{n}.peak_private_bytes")
            for key in keys:
                mine, theirs = e["median"][key], whole["median"][key]
                cells.append(
                    f"{_gb(mine)} | {_gb(theirs)} | {_ratio(mine, theirs)} "
                    f"({_ratio(e['max'][key], theirs)})"
                )
            lines.append(
                f"| {e['multiplier']} | {e['variant']} | {n} | " + " | ".join(cells) + " |"
            )
    return lines


def markdown(results: dict) -> str:
    m, config, summary = results["machine"], results["config"], results["summary"]
    raw_mode = RAW_MODES[config.get("raw_table_before_preprocess")]
    touched = results.get("first_touch")
    lines = [
        "# pipeline-bench results",
        "",
        f"**Machine:** {machine_line(m)}.",
        "",
        f"**Run:** multipliers {', '.join(map(str, config['multipliers']))}; "
        f"{config['repeats']} repeats each; variants {', '.join(config['variants'])}, "
        f"{config['interleaving']}; vineyardd {config['vineyardd']}; cold NAS reads by "
        f"{config['cold_nas_reads']}; raw table {raw_mode} before each preprocess (every variant "
        f"alike); {config['seconds']:.0f} s in all."
        + (f" Note: {config['note']}" if config.get("note") else ""),
        "",
        (
            f"**First touch:** {touched['bytes'] / 2**30:.1f} GiB of free memory written once "
            f"before measuring, in {touched['seconds']:.1f} s, then released."
            if touched
            else "**First touch:** skipped."
        ),
        "",
        "Medians, with min–max over the repeats. Each step is its own process; wall = process "
        "start to exit; e2e = the three walls summed. handoff = the phases a store makes a step "
        "do: preprocess allocate + save, train load + private_copy + page_in, evaluate load + "
        "page_in. train fit = train's load + private_copy + page_in + compute. memcpy = one "
        "in-memory copy of the split's bytes into pre-faulted memory (the floor of a handoff)."
        + (PARTITIONED_NOTE if any(e.get("partitions", 1) > 1 for e in summary) else ""),
        "",
        "## End to end",
        "",
        "| M | variant | e2e | x vineyard | handoff | train fit | train load | evaluate load "
        "| memcpy | peak RSS GB (pre/train/eval) | peak private GB | MSE |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        base = entry(summary, "vineyard", e["multiplier"])
        times = f"{e['median']['e2e_s'] / base['median']['e2e_s']:.2f}" if base is not None else "–"
        rss = "/".join(_gb(e["median"][f"{n}.peak_rss_bytes"]) for n in STEPS)
        private = "/".join(_gb(e["median"][f"{n}.peak_private_bytes"]) for n in STEPS)
        lines.append(
            f"| {e['multiplier']} | {e['variant']} | {_range(e, 'e2e_s')} | {times} | "
            f"{_range(e, 'handoff_s')} | {_range(e, 'train_fit_s')} | "
            f"{_range(e, 'train_load_s')} | {_range(e, 'evaluate_load_s')} | "
            f"{_s(e['median']['memcpy_s'])} | {rss} | {private} | {e['median']['mse']:.10g} |"
        )
    lines += fit_gain(summary)
    lines += partitions_section(summary)
    lines += ["", "## Scaling with M (medians)", "", *scaling.table(summary)]
    lines += [
        "",
        "## Steps: wall time and phases",
        "",
        "startup = process start to the step's main (interpreter, imports); connect = opening "
        "the store. allocate, private_copy, page_in: the store's work around compute (0 where a "
        "variant has no such phase). other = wall minus the phases (process exit).",
        "",
        "| M | variant | step | wall | "
        + " | ".join(PHASES)
        + " | other | peak RSS GB | peak private GB |",
        "|---|---|---|---|" + "---|" * len(PHASES) + "---|---|---|",
    ]
    for e in summary:
        for n in processes(e):
            med = e["median"]
            lines.append(
                f"| {e['multiplier']} | {e['variant']} | {n} | {_range(e, f'{n}.wall_s')} | "
                + " | ".join(_s(med[f"{n}.{p}_s"]) for p in PHASES)
                + f" | {_s(med[f'{n}.other_s'])} | {_gb(med[f'{n}.peak_rss_bytes'])} | "
                + f"{_gb(med[f'{n}.peak_private_bytes'])} |"
            )
    lines += [
        "",
        "## Steps: CPU time and page faults (from the kernel, medians)",
        "",
        "Wall time beyond user + system CPU is waiting (disk, or other processes on a busy "
        "machine). Each first touch of a 4 KiB page is a minor fault; major faults read from "
        "disk.",
        "",
        "| M | variant | step | wall | user CPU | system CPU | minor faults | major faults |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        for n in processes(e):
            med = e["median"]
            lines.append(
                f"| {e['multiplier']} | {e['variant']} | {n} | {_s(med[f'{n}.wall_s'])} | "
                f"{_s(med[f'{n}.user_s'])} | {_s(med[f'{n}.system_s'])} | "
                f"{med[f'{n}.minor_faults']:,.0f} | {med[f'{n}.major_faults']:,.0f} |"
            )
    starts = [e for e in summary if e["median"]["vineyardd_start_s"] > 0]
    if starts:
        lines += [
            "",
            "## vineyardd start-up (untimed in e2e: in a cluster it is up before the pipeline)",
            "",
            "| M | variant | start-up |",
            "|---|---|---|",
        ]
        for e in starts:
            lines.append(
                f"| {e['multiplier']} | {e['variant']} | {_range(e, 'vineyardd_start_s')} |"
            )
    lines += ["", "## Targets", "", "| target | status | measured |", "|---|---|---|"]
    for t in results["targets"]:
        lines.append(f"| {t['target']} | **{t['status']}** | {t['detail']} |")
    fetch = results.get("cross_node_fetch")
    if fetch:
        lines += [
            "",
            "## Cross-node fetch (two vineyardd sharing one etcd, on this machine)",
            "",
            f"A {fetch['bytes'] / 2**20:.0f} MiB split written on one instance and read on the "
            f"other (migrated over vineyard's RPC, on loopback): {fetch['seconds']:.2f} s, "
            f"{fetch['bytes_per_s'] / 2**20:.0f} MiB/s; read again on the same node, from the "
            f"local copy: {fetch['local_seconds'] * 1000:.1f} ms. In a cluster this is what a "
            "step pays when it lands on another node than the data: Fluid's fuse affinity "
            "(deploy/) avoids it.",
        ]
    lines.append("")
    return "\n".join(lines)


def chart(results: dict, path: Path) -> None:
    """One panel per M, the variants side by side on one scale, each bar the three steps stacked
    by part (start-up, handoff, compute, other; a partitioned variant's merges), its e2e and its
    multiple of vineyard's written on top."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    summary = results["summary"]
    multipliers = sorted({e["multiplier"] for e in summary})
    fig, axes = plt.subplots(
        1, len(multipliers), figsize=(max(7.0, 3.6 * len(multipliers) + 0.8), 5.4), squeeze=False
    )
    drawn = set()
    for ax, multiplier in zip(axes[0], multipliers, strict=True):
        present = [e["variant"] for e in summary if e["multiplier"] == multiplier]
        base = entry(summary, "vineyard", multiplier)
        top = 0.0
        for x, variant in enumerate(present):
            e = entry(summary, variant, multiplier)
            bottom = 0.0
            parts = bar_parts(e)
            for i, (n, label, h) in enumerate(parts):
                drawn.add(label)
                ax.bar(x, h, 0.7, bottom=bottom, color=SEGMENTS[label], edgecolor="none")
                bottom += h
                if i + 1 == len(parts) or parts[i + 1][0] != n:
                    # A thin line between steps: preprocess at the bottom, evaluate on top.
                    ax.plot([x - 0.35, x + 0.35], [bottom, bottom], color="black", linewidth=0.6)
            e2e = e["median"]["e2e_s"]
            text = _s(e2e)
            if base is not None and variant != "vineyard":
                text += f"\n{e2e / base['median']['e2e_s']:.1f}x"
            ax.text(x, bottom, text, ha="center", va="bottom", fontsize=8, fontweight="bold")
            top = max(top, bottom)
        ax.set_xticks(range(len(present)), present, rotation=30, ha="right", fontsize=8)
        for tick, variant in zip(ax.get_xticklabels(), present, strict=True):
            tick.set_color(lookup(variant).color)
            tick.set_fontweight("bold")
        ax.set_ylim(0, top * 1.22)
        ax.set_ylabel(
            "seconds: median e2e, split by the steps' median parts\n"
            "(steps stacked: preprocess, train, evaluate)",
            fontsize=8,
        )
        ax.set_title(f"M={multiplier} ({multiplier * 10_000:,} rows)", fontsize=9)
    shown = [label for label in SEGMENTS if label in drawn]
    handles = [plt.Rectangle((0, 0), 1, 1, color=SEGMENTS[label]) for label in shown]
    fig.legend(handles, shown, loc="lower center", ncol=2, fontsize=8)
    m = results["machine"]
    fig.suptitle(
        "End to end per variant; on top: e2e and how many times vineyard's\n"
        f"{m['cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB, {m['date'][:10]}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))  # room for the legend below the panels
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    for directory in sys.argv[1:]:
        rerender(Path(directory))
