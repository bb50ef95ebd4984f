"""The benchmark's outputs: results.json (everything), results.md (tables), results.png (chart)."""

import json
from pathlib import Path

from shmpipe_pipeline.runner import STEPS

from .summary import GB, PHASES, SEED, STORE_ORDER

SEGMENTS = (*PHASES, "other")
RAW_MODES = {
    "warm": "read into the page cache",
    "cold": "evicted from the page cache",
    None: "left as found in the page cache",
}
COLORS = {
    "startup": "#9e9e9e",
    "connect": "#9467bd",
    "load": "#1f77b4",
    "compute": "#ff7f0e",
    "save": "#2ca02c",
    "other": "#d9d9d9",
}


def rerender(out: Path) -> dict:
    """Recompute summary, ratios and targets from the raw runs in DIR/results.json and rewrite
    the three files (after a change to the report, without rerunning the benchmark)."""
    from .summary import ratios, summarize, targets

    results = json.loads((Path(out) / "results.json").read_text())
    results["summary"] = summarize(results["runs"])
    results["ratios"] = ratios(results["summary"])
    results["targets"] = targets(results["summary"])
    write_results(out, results)
    return results


def write_results(out: Path, results: dict) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown(results))
    chart(results, out / "results.png")


def _s(x: float) -> str:
    """Seconds, with the precision a reader needs at that size."""
    if x < 0.1:
        return f"{x * 1e3:.1f} ms"
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def _range(entry: dict, key: str) -> str:
    return f"{_s(entry[key])} ({_s(entry[key + '_min'])}–{_s(entry[key + '_max'])})"


def _stat(stat: dict) -> str:
    return f"{_s(stat['median'])} ({_s(stat['min'])}–{_s(stat['max'])})"


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
        f"benchmark's own peak RSS (a floor under each step's) "
        f"{m.get('bench_process_peak_rss_bytes', 0) / 2**20:.0f} MiB"
    )


def markdown(results: dict) -> str:
    m, config, summary = results["machine"], results["config"], results["summary"]
    raw_mode = RAW_MODES[config.get("raw_table_before_preprocess")]
    lines = [
        "# pipeline-bench results",
        "",
        f"**Machine:** {machine_line(m)}.",
        "",
        f"**Run:** multipliers {', '.join(map(str, config['multipliers']))}; "
        f"{config['repeats']} repeats each, {config['interleaving']}; cold NAS reads by "
        f"{config['cold_nas_reads']}; raw table {raw_mode}"
        f" before each preprocess (both stores alike); {config['seconds']:.0f} s in all."
        + (f" Note: {config['note']}" if config.get("note") else ""),
        "",
        "Medians, with min–max over the repeats. Each step is its own process; wall = process "
        "start to exit. handoff = preprocess save + train load + evaluate load. memcpy = one "
        "in-memory copy of the split's bytes into pre-faulted memory (the floor of a handoff), "
        "timed in the same run (results.json also has `memcpy_fresh_s`: the same copy into new "
        "memory, page faults included).",
        "",
        "## End to end",
        "",
        "| M | store | e2e | handoff | train load | evaluate load | memcpy | handoff/memcpy "
        "| peak RSS GB (pre/train/eval) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        rss = "/".join(_gb(e["peak_rss_bytes"][n]) for n in STEPS)
        lines.append(
            f"| {e['multiplier']} | {e['store']} | {_range(e, 'e2e_s')} | {_range(e, 'handoff_s')} "
            f"| {_range(e, 'train_load_s')} | {_range(e, 'evaluate_load_s')} | "
            f"{_range(e, 'memcpy_s')} | {e['handoff_over_memcpy']:.1f}x | {rss} |"
        )
    lines += [
        "",
        "## Ratios vineyard / NAS (medians; below 1 = vineyard faster or smaller)",
        "",
        "| M | e2e | handoff | train load | evaluate load | "
        + " | ".join(f"{n} wall" for n in STEPS)
        + " | "
        + " | ".join(f"{n} RSS" for n in STEPS)
        + " |",
        "|---" * (5 + 2 * len(STEPS)) + "|",
    ]
    for r in results["ratios"]:
        cells = [r["e2e_s"], r["handoff_s"], r["train_load_s"], r["evaluate_load_s"]]
        cells += [r[f"{n}.wall_s"] for n in STEPS] + [r[f"{n}.peak_rss_bytes"] for n in STEPS]
        lines.append(
            f"| {r['multiplier']} | "
            + " | ".join("–" if c is None else f"{c:.3f}" for c in cells)
            + " |"
        )
    lines += [
        "",
        "## Pod start-up (startup + connect: interpreter, imports, opening the store)",
        "",
        "| M | store | " + " | ".join(STEPS) + " |",
        "|---|---|" + "---|" * len(STEPS),
    ]
    for e in summary:
        lines.append(
            f"| {e['multiplier']} | {e['store']} | "
            + " | ".join(_s(e["pod_startup_s"][n]) for n in STEPS)
            + " |"
        )
    lines += [
        "",
        "## Steps: wall time, phases, peak RSS",
        "",
        "startup = process start to the step's main (interpreter, imports); connect = opening "
        "the store (for vineyard: loading its client, connecting), a per-pod cost like startup "
        "and not part of the handoff. other = wall minus the phases (interpreter exit, "
        "teardown).",
        "",
        "| M | store | step | wall | startup | connect | load | compute | save | other "
        "| peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        for n in STEPS:
            st = e["steps"][n]
            lines.append(
                f"| {e['multiplier']} | {e['store']} | {n} | {_stat(st['wall_s'])} | "
                + " | ".join(_stat(st[f"{p}_s"]) for p in SEGMENTS)
                + f" | {_gb(st['peak_rss_bytes']['median'])} |"
            )
    lines += [
        "",
        "## Steps: CPU time and page faults (from the kernel, medians)",
        "",
        "Wall time beyond user + system CPU is waiting (disk, or the other process on a busy "
        "machine). Page faults cost system time: each first touch of a 4 KiB page is one; major "
        "faults read from disk.",
        "",
        "| M | store | step | wall | user CPU | system CPU | minor faults | major faults |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        for n in STEPS:
            st = e["steps"][n]
            lines.append(
                f"| {e['multiplier']} | {e['store']} | {n} | {_s(st['wall_s']['median'])} | "
                f"{_s(st['user_s']['median'])} | {_s(st['system_s']['median'])} | "
                f"{st['minor_faults']['median']:,.0f} | {st['major_faults']['median']:,.0f} |"
            )
    lines += [
        "",
        "## Issue 5 targets",
        "",
        "| target | status | measured |",
        "|---|---|---|",
    ]
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
    lines += [
        "",
        "## Reference: the seed scripts (issue 5)",
        "",
        f"At M={SEED['multiplier']} on this 2-core machine: end to end "
        f"{SEED['e2e_s']['vineyard']:.0f} s with vineyard, {SEED['e2e_s']['nas']:.0f} s with "
        "files; steps "
        + ", ".join(f"{n} {SEED['step_wall_s'][n]:.0f} s" for n in STEPS)
        + "; peak RSS "
        + ", ".join(f"{n} {SEED['peak_rss_bytes'][n] / GB:.1f} GB" for n in STEPS)
        + f". On the seed's cluster: {SEED['cluster_e2e_s']['vineyard']:.0f} s vineyard, "
        f"{SEED['cluster_e2e_s']['nas']:.0f} s NAS.",
        "",
    ]
    return "\n".join(lines)


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    summary = results["summary"]
    multipliers = sorted({e["multiplier"] for e in summary})
    fig, axes = plt.subplots(
        1, len(multipliers), figsize=(4.2 * len(multipliers) + 1, 4.6), squeeze=False
    )
    width = 0.38
    for ax, multiplier in zip(axes[0], multipliers, strict=True):
        entries = {e["store"]: e for e in summary if e["multiplier"] == multiplier}
        for k, store in enumerate(s for s in STORE_ORDER if s in entries):
            e = entries[store]
            for i, n in enumerate(STEPS):
                x = i + (k - 0.5) * width
                bottom = 0.0
                for seg in SEGMENTS:
                    h = e["steps"][n][f"{seg}_s"]["median"]
                    ax.bar(
                        x,
                        h,
                        width * 0.95,
                        bottom=bottom,
                        color=COLORS[seg],
                        hatch="//" if store == "vineyard" else None,
                        edgecolor="black",
                        linewidth=0.4,
                        label=seg if (k, i) == (0, 0) else None,
                    )
                    bottom += h
                ax.text(x, bottom, store[:3], ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(STEPS)), STEPS)
        ax.set_ylabel("seconds (median)")
        title = f"M={multiplier}"
        if "nas" in entries and "vineyard" in entries:
            title += (
                f"\ne2e NAS {_s(entries['nas']['e2e_s'])}, vineyard "
                f"{_s(entries['vineyard']['e2e_s'])}\nhandoff NAS "
                f"{_s(entries['nas']['handoff_s'])}, vineyard "
                f"{_s(entries['vineyard']['handoff_s'])} (memcpy "
                f"{_s(entries['vineyard']['memcpy_s'])})"
            )
        ax.set_title(title, fontsize=9)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=len(SEGMENTS),
        fontsize=8,
        title="phase (hatched bars: vineyard)",
        title_fontsize=8,
    )
    m = results["machine"]
    fig.suptitle(
        f"NAS vs vineyard, each step its own process — {m['cores']} cores, "
        f"{m['ram_bytes'] / 2**30:.0f} GiB, {m['date'][:10]}",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))  # room for the legend below the panels
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    for directory in sys.argv[1:]:
        rerender(Path(directory))
