"""Cost against data size: e2e and the largest step's peak RSS per variant, from one or more
results directories (the M=10..300 run and the M=2000 run are separate runs).

`python -m shmpipe_bench.scaling OUT DIR...` writes OUT/scaling.md and OUT/scaling.png.
"""

import json
import sys
from pathlib import Path

from .summary import GB, entry
from .summary import seconds as _s
from .variants import lookup, rank


def _variants(summary: list[dict]) -> list[str]:
    """The variants measured, in the table's order."""
    return sorted({e["variant"] for e in summary}, key=rank)


def table(summary: list[dict]) -> list[str]:
    """Markdown rows: per M, each variant's median e2e and largest step's peak RSS."""
    names = _variants(summary)
    lines = [
        "| M | "
        + " | ".join(f"{v} e2e" for v in names)
        + " | "
        + " | ".join(f"{v} peak RSS GB" for v in names)
        + " |",
        "|---" * (1 + 2 * len(names)) + "|",
    ]
    for multiplier in sorted({e["multiplier"] for e in summary}):
        row = [entry(summary, v, multiplier) for v in names]
        lines.append(
            f"| {multiplier} | "
            + " | ".join(_s(e["median"]["e2e_s"]) if e else "–" for e in row)
            + " | "
            + " | ".join(f"{e['median']['max_peak_rss_bytes'] / GB:.2f}" if e else "–" for e in row)
            + " |"
        )
    return lines


def chart(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for variant in _variants(summary):
        rows = sorted(
            (e for e in summary if e["variant"] == variant), key=lambda e: e["multiplier"]
        )
        if not rows:
            continue
        ms = [e["multiplier"] for e in rows]
        # Partitioned variants dashed: the same steps, split.
        dashed = "--" if lookup(variant).partitions > 1 else "-"
        style = {"color": lookup(variant).color, "marker": "o", "label": variant, "ls": dashed}
        left.plot(ms, [e["median"]["e2e_s"] for e in rows], **style)
        right.plot(ms, [e["median"]["max_peak_rss_bytes"] / GB for e in rows], **style)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax, label in ((left, "e2e, seconds (median)"), (right, "largest step's peak RSS, GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax.set_xlabel("M (10,000 rows each), log scale")
        ax.set_ylabel(label + ", log scale")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Cost against data size, per variant", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def combine(out: Path, directories: list[Path]) -> list[dict]:
    """The summaries of several results directories as one (later directories win per M)."""
    merged: dict[tuple, dict] = {}
    sources = []
    for directory in directories:
        results = json.loads((Path(directory) / "results.json").read_text())
        sources.append(f"{directory} ({results['machine']['date']})")
        for e in results["summary"]:
            merged[(e["variant"], e["multiplier"])] = e
    summary = sorted(merged.values(), key=lambda e: (e["multiplier"], rank(e["variant"])))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Scaling with M",
        "",
        "Medians, from: "
        + "; ".join(sources)
        + ". peak RSS: the largest of the steps' processes'.",
        "",
        *table(summary),
        "",
        "![e2e and peak RSS against M](scaling.png)",
        "",
    ]
    (out / "scaling.md").write_text("\n".join(lines))
    chart(summary, out / "scaling.png")
    return summary


if __name__ == "__main__":
    combine(Path(sys.argv[1]), [Path(a) for a in sys.argv[2:]])
