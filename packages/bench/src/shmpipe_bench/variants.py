"""The four pipelines the benchmark runs side by side: the seed's method and ours, each with NAS and
with vineyard. One table; everything else reads it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    method: str  # "seed": shmpipe_bench.seed's steps; "ours": the pipeline's steps
    store: str  # "nas" or "vineyard"
    color: str  # in the charts


VARIANTS = (
    Variant("seed-nas", "seed", "nas", "#8c564b"),
    Variant("seed-vineyard", "seed", "vineyard", "#d62728"),
    Variant("nas", "ours", "nas", "#7f7f7f"),
    Variant("vineyard", "ours", "vineyard", "#2ca02c"),
)
BY_NAME = {v.name: v for v in VARIANTS}
NAMES = tuple(v.name for v in VARIANTS)


def order(repeat: int) -> tuple[Variant, ...]:
    """The variants in repeat `repeat`'s order: rotated by one each repeat, so each variant runs
    first, second, ... in turn and drift in load and memory falls on all alike."""
    k = repeat % len(VARIANTS)
    return VARIANTS[k:] + VARIANTS[:k]
