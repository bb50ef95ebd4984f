"""`pipeline-bench`: the NAS and the vineyard pipeline side by side, each step its own process.

For each multiplier the raw table is prepared once (untimed), then the two stores run A/B
interleaved (nas, vineyard, then vineyard, nas, ...) so drift in machine load falls on both alike.
Before train and before evaluate the NAS run's split files are evicted from the page cache, so NAS
reads are cold as on a real NAS. After each run its intermediates are deleted, so shared memory and
disk do not fill. Writes results.json, results.md and results.png (see bench/README.md).
"""

import argparse
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from shmpipe_core import embedded
from shmpipe_core.cli import Parser, add_data_dir, add_debug, run
from shmpipe_core.dataset import SPLIT_NAMES, check_multiplier, raw_path, run_dir
from shmpipe_core.errors import UsageError
from shmpipe_core.nas_store import splits_dir
from shmpipe_core.runs import delete_intermediates
from shmpipe_core.store import STORES
from shmpipe_core.vineyard_client import memory_usage
from shmpipe_core.vineyard_connect import locate
from shmpipe_pipeline.runner import RunSpec, prepare_raw, run_steps
from shmpipe_pipeline.steps import last_json, read_step_record

from . import cold_cache, machine_info
from .local_cluster import LocalCluster, fetch_throughput
from .memcpy_floor import memcpy_seconds_in_child
from .report import write_results
from .summary import PHASES, ratios, summarize, targets

DEFAULT_MULTIPLIERS = "10,100,300"
RESULTS_ROOT = Path("bench/results")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pipeline-bench",
        description="Benchmark the NAS and the vineyard pipeline side by side (A/B interleaved).",
    )
    parser.add_argument(
        "--multipliers",
        default=DEFAULT_MULTIPLIERS,
        help=f"comma-separated data multipliers (default {DEFAULT_MULTIPLIERS}; 2000 is the "
        "seed's size: 7.4 GB raw on disk and about 7 GB of shared memory)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per store and multiplier")
    parser.add_argument(
        "--out", type=Path, default=None, help="results directory (default bench/results/LABEL)"
    )
    parser.add_argument(
        "--label", default=None, help="names the default results directory (default: hostname)"
    )
    add_data_dir(parser)
    parser.add_argument("--vineyard-socket", default=None, help="vineyard IPC socket")
    parser.add_argument(
        "--drop-caches",
        action="store_true",
        help="make NAS reads cold by dropping all caches (root only) instead of evicting the "
        "split files",
    )
    parser.add_argument(
        "--raw",
        choices=("warm", "cold"),
        default="warm",
        help="the raw table before each preprocess, for both stores alike: read into the page "
        "cache (default) or evicted from it",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the untimed M=1 run per store that loads the steps' code into the page cache",
    )
    parser.add_argument(
        "--cross-node-mib",
        type=int,
        default=256,
        help="size of the two-node fetch measured at the end (two vineyardd sharing one etcd); "
        "0 skips it (default 256)",
    )
    parser.add_argument("--note", default="", help="a line stored with the results (e.g. load)")
    add_debug(parser)
    return parser


def cross_node_fetch(nbytes: int) -> dict:
    """Throughput of reading a split another vineyardd holds: the cost of landing on a node
    without the data (the two-node setup of the reliability tests, measured here)."""
    progress(f"cross-node fetch: {nbytes >> 20} MiB between two vineyardd sharing one etcd")
    # A short path: unix socket paths are limited to 107 bytes.
    size = f"{2 * nbytes + (256 << 20)}"  # the split, its migrated copy, and headroom
    with (
        tempfile.TemporaryDirectory(prefix="shmpipe-bench-") as directory,
        LocalCluster(Path(directory), nodes=2, size=size) as cluster,
    ):
        return fetch_throughput(cluster.sockets[0], cluster.sockets[1], nbytes)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_multipliers(text: str) -> list[int]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise UsageError("--multipliers is empty: give e.g. 10,100,300")
    return [check_multiplier(v) for v in values]


@contextmanager
def vineyard_session(cli_socket: str | None):
    """The socket of the configured vineyard, else of the embedded one, started only if none runs
    (and then stopped at the end, so the benchmark leaves the machine as it found it)."""
    endpoint, up = locate(cli_socket)
    if endpoint.configured or up:
        yield endpoint.socket
        return
    sock = embedded.ensure_running()
    progress(f"started an embedded vineyardd on {sock}")
    try:
        yield sock
    finally:
        embedded.stop()
        progress("stopped the embedded vineyardd")


class CacheControl:
    """The hook run before each step, so that both stores start from the same page cache.

    Before preprocess: the raw table is read into the page cache (`warm`, the default) or evicted
    (`cold`), for both stores alike. Without this the first run after the raw table was prepared,
    or pushed out by a large run, pays for reading it from disk and the other store does not.
    Before train, for both stores alike, the raw table leaves the page cache again: it is
    preprocess's input only, and in a cluster its cache sits on the NAS server or preprocess's
    node, not in train's memory (on one 24 GiB machine it would squeeze train at M=2000).
    Before train and evaluate: the NAS run's split is evicted, so they read it cold, as from a NAS.
    """

    def __init__(
        self, store: str, data_dir: Path, run_id: str, raw: Path, raw_mode: str, drop_all: bool
    ):
        self.store, self.data_dir, self.run_id = store, data_dir, run_id
        self.raw, self.raw_mode, self.drop_all = raw, raw_mode, drop_all
        self.raw_cache: dict = {}
        self.evicted: dict[str, dict] = {}

    def __call__(self, step: str) -> None:
        if step == "preprocess":
            if self.raw_mode == "warm":
                cold_cache.warm([self.raw])
            else:
                cold_cache.evict([self.raw])
            self.raw_cache = {
                "mode": self.raw_mode,
                "bytes": self.raw.stat().st_size,
                "resident_bytes": cold_cache.resident_bytes([self.raw]),
            }
            return
        if step == "train":
            cold_cache.evict([self.raw])
        if self.store != "nas":
            return
        files = cold_cache.files_under(splits_dir(self.data_dir, self.run_id))
        nbytes = cold_cache.evict(files)
        if self.drop_all:
            cold_cache.drop_all_caches()
        self.evicted[step] = {
            "bytes": nbytes,
            "resident_after_bytes": cold_cache.resident_bytes(files),
        }


def step_figures(step, record: dict) -> dict:
    """One step: wall time and peak RSS as the parent saw them, phases as the step saw itself."""
    phases = record.get("phases", {})
    figures = {
        "name": step.name,
        "wall_s": step.seconds,
        "peak_rss_bytes": step.peak_rss_bytes,
        "user_s": step.user_s,
        "system_s": step.system_s,
        "minor_faults": step.minor_faults,
        "major_faults": step.major_faults,
        "startup_s": record.get("startup_s", 0.0),
        "connect_s": phases.get("connect", 0.0),
        "load_s": phases.get("load", 0.0),
        "compute_s": phases.get("compute", 0.0),
        "save_s": phases.get("save", 0.0),
    }
    # Interpreter exit, and anything between the phases: part of what the pod pays.
    accounted = sum(figures[f"{p}_s"] for p in PHASES)
    figures["other_s"] = max(0.0, step.seconds - accounted)
    figures["record"] = record
    return figures


def one_run(
    store: str,
    multiplier: int,
    repeat: int,
    data_dir: Path,
    sock: str,
    drop_all: bool = False,
    raw_mode: str = "warm",
) -> dict:
    run_id = f"bench-{os.getpid()}-m{multiplier}-r{repeat}-{store}"
    cold = CacheControl(store, data_dir, run_id, raw_path(data_dir, multiplier), raw_mode, drop_all)
    load = machine_info.load_average()
    try:
        steps = run_steps(RunSpec(store, multiplier, data_dir, run_id, sock), before_step=cold)
        records = {s.name: read_step_record(data_dir, run_id, s.name) for s in steps}
        mse = last_json(steps[-1].stdout).get("mse")
    finally:
        # Delete the run's data whatever happened, so the next run finds memory and disk free.
        delete_intermediates(data_dir, run_id, store, sock)
        shutil.rmtree(run_dir(data_dir, run_id), ignore_errors=True)
    split_bytes = [records["preprocess"]["bytes"][n] for n in SPLIT_NAMES]
    copies = memcpy_seconds_in_child(split_bytes)
    figures = [step_figures(s, records[s.name]) for s in steps]
    by_name = {f["name"]: f for f in figures}
    return {
        "store": store,
        "multiplier": multiplier,
        "repeat": repeat,
        "run_id": run_id,
        "mse": mse,
        "load_average_before": load,
        "steps": figures,
        "e2e_s": sum(f["wall_s"] for f in figures),
        "handoff_s": by_name["preprocess"]["save_s"]
        + by_name["train"]["load_s"]
        + by_name["evaluate"]["load_s"],
        "handoff_bytes": sum(split_bytes),
        "memcpy_s": copies["floor_s"],
        "memcpy_fresh_s": copies["fresh_s"],
        "cold_reads": cold.evicted,
        "raw_cache": cold.raw_cache,
        "vineyard_usage_after_cleanup_bytes": memory_usage(sock),
    }


def describe_run(run: dict) -> str:
    steps = " ".join(f"{s['name']} {s['wall_s']:.2f}s" for s in run["steps"])
    return (
        f"{steps} | e2e {run['e2e_s']:.2f}s handoff {run['handoff_s']:.3f}s "
        f"memcpy {run['memcpy_s']:.3f}s"
    )


def bench(args) -> dict:
    multipliers = parse_multipliers(args.multipliers)
    if args.repeats < 1:
        raise UsageError(f"--repeats {args.repeats}: give at least 1")
    if args.drop_caches and not cold_cache.can_drop_all_caches():
        raise UsageError("--drop-caches needs root (it writes /proc/sys/vm/drop_caches)")
    out = args.out or RESULTS_ROOT / (args.label or socket.gethostname())
    data_dir = Path(args.data_dir)
    machine = machine_info.describe(data_dir)
    started = time.perf_counter()
    runs: list[dict] = []
    total = len(multipliers) * args.repeats * len(STORES)
    with vineyard_session(args.vineyard_socket) as sock:
        if not args.no_warmup:
            progress("warm-up: one untimed M=1 run per store (loads the steps' code and libs)")
            prepare_raw(data_dir, 1)
            for store in STORES:
                one_run(store, 1, -1, data_dir, sock)
        for multiplier in multipliers:
            progress(f"M={multiplier}: preparing the raw table (untimed)")
            prepare_raw(data_dir, multiplier)
            for repeat in range(args.repeats):
                # A/B, then B/A: drift in load falls on both stores alike.
                order = STORES if repeat % 2 == 0 else tuple(reversed(STORES))
                for store in order:
                    result = one_run(
                        store, multiplier, repeat, data_dir, sock, args.drop_caches, args.raw
                    )
                    runs.append(result)
                    progress(
                        f"[{len(runs)}/{total}] M={multiplier} repeat {repeat + 1}/{args.repeats} "
                        f"{store:<8} {describe_run(result)}"
                    )
    machine["load_average_end"] = machine_info.load_average()
    # A child's peak RSS starts at its parent's peak (vfork + exec): this is the floor under
    # every step's figure, so it must stay small.
    machine["bench_process_peak_rss_bytes"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    # Other work on the machine skews timings: say how busy it was while the runs ran.
    loads = [r["load_average_before"][0] for r in runs]
    machine["load_average_1m_during"] = [min(loads), max(loads)]
    summary = summarize(runs)
    fetch = cross_node_fetch(args.cross_node_mib << 20) if args.cross_node_mib > 0 else None
    results = {
        "machine": machine,
        "config": {
            "multipliers": multipliers,
            "repeats": args.repeats,
            "interleaving": "A/B then B/A per repeat (nas, vineyard / vineyard, nas)",
            "cold_nas_reads": "drop_caches" if args.drop_caches else "fsync+fadvise(DONTNEED)",
            "raw_table_before_preprocess": args.raw,
            "warmup": not args.no_warmup,
            "data_dir": str(data_dir),
            "note": args.note,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "summary": summary,
        "ratios": ratios(summary),
        "targets": targets(summary),
        "runs": runs,
        "cross_node_fetch": fetch,
    }
    write_results(out, results)
    progress(f"wrote {out}/results.json, results.md, results.png")
    return results


def main(argv: list[str] | None = None) -> int:
    def body(args):
        results = bench(args)
        for t in results["targets"]:
            print(f"{t['status']:<13} {t['target']}: {t['detail']}")

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
