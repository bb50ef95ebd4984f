"""The pipelines the benchmark runs side by side: the seed's method and ours, each with NAS and
with vineyard, and ours split into partitions (`nas-p2`: P=2). One table; everything else reads
it."""

import re
from dataclasses import dataclass

from shmpipe_core.errors import UsageError


@dataclass(frozen=True)
class Variant:
    name: str
    method: str  # "seed": shmpipe_bench.seed's steps; "ours": the pipeline's steps
    store: str  # "nas" or "vineyard"
    color: str  # in the charts
    partitions: int = 1  # ours only: each step one process per partition, then the merges

    @property
    def whole(self) -> str:
        """The one-partition variant this one is compared with (itself at P=1)."""
        return self.name if self.partitions == 1 else self.store


VARIANTS = (
    Variant("seed-nas", "seed", "nas", "#8c564b"),
    Variant("seed-vineyard", "seed", "vineyard", "#d62728"),
    Variant("nas", "ours", "nas", "#7f7f7f"),
    Variant("vineyard", "ours", "vineyard", "#2ca02c"),
    Variant("nas-p2", "ours", "nas", "#17becf", 2),
    Variant("vineyard-p2", "ours", "vineyard", "#9467bd", 2),
)
BY_NAME = {v.name: v for v in VARIANTS}
NAMES = tuple(v.name for v in VARIANTS)
# What `pipeline-bench` runs unless --variants says otherwise: the committed result sets' four.
DEFAULT = VARIANTS[:4]
# Ours with any number of partitions, named as the listed P=2 ones are.
PARTITIONED = re.compile(r"(nas|vineyard)-p([0-9]+)")


def lookup(name: str) -> Variant:
    """A variant by name: a listed one, or ours at P partitions as `<store>-p<P>` (P >= 2)."""
    if name in BY_NAME:
        return BY_NAME[name]
    match = PARTITIONED.fullmatch(name)
    if match and int(match[2]) >= 2:
        store, partitions = match[1], int(match[2])
        return Variant(name, "ours", store, BY_NAME[f"{store}-p2"].color, partitions)
    raise UsageError(
        f"unknown variant {name!r}: give some of {', '.join(NAMES)} (or nas-pN, vineyard-pN "
        "with N >= 2 partitions)"
    )


def parse(text: str) -> tuple[Variant, ...]:
    """--variants: comma-separated names, each once, in the order the table lists them."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--variants is empty: give e.g. nas,vineyard,nas-p2,vineyard-p2")
    if len(set(names)) != len(names):
        raise UsageError(f"--variants {text}: a variant is named twice")
    return tuple(sorted((lookup(n) for n in names), key=lambda v: rank(v.name)))


def rank(name: str) -> tuple:
    """Where a variant sorts in tables and charts: the table's order, then by partitions."""
    if name in BY_NAME:
        return (NAMES.index(name), 0)
    variant = lookup(name)
    return (len(NAMES), variant.partitions, variant.store)


def order(repeat: int, variants: tuple[Variant, ...] = DEFAULT) -> tuple[Variant, ...]:
    """The variants in repeat `repeat`'s order: rotated by one each repeat, so each variant runs
    first, second, ... in turn and drift in load and memory falls on all alike."""
    k = repeat % len(variants)
    return variants[k:] + variants[:k]
