"""`pipeline-bench`: the seed's method and ours, each with NAS and with vineyard, side by side.

For each multiplier the raw table is prepared once (untimed); then each repeat runs the chosen
variants (shmpipe_bench.variants; by default the four unpartitioned ones) in an order rotated by
one per repeat, so drift in machine load falls on all alike. Every step is its own process (a
partitioned variant's: one per partition at once, then the merges). Before measuring, the
machine's free memory is touched once (first_touch). Each vineyard run gets a vineyardd of its
own, one per partition (bench_vineyardd). NAS reads are cold: the split's files are evicted from
the page cache before train and evaluate. After each run its data is deleted. Writes
results.json, results.md, results.png and scaling.png (see bench/README.md).
"""

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from shmpipe_core import progress as bars
from shmpipe_core.cli import Parser, add_data_dir, add_debug, run
from shmpipe_core.dataset import (
    SPLIT_NAMES,
    check_multiplier,
    raw_path,
)
from shmpipe_core.errors import StepError, UsageError
from shmpipe_core.layout import RunLayout
from shmpipe_core.metrics import peak_rss_bytes
from shmpipe_core.runs import delete_intermediates
from shmpipe_core.step_contract import STEPS
from shmpipe_core.vineyard import Vineyard
from shmpipe_core.vineyard.client import memory_usage
from shmpipe_pipeline.runner import RunSpec, prepare_raw, run_steps, wall_seconds
from shmpipe_pipeline.steps import (
    Interrupted,
    SignalForwarding,
    StepRun,
    last_json,
    read_step_record,
    run_step,
)

from . import (
    bench_vineyardd,
    cold_cache,
    first_touch,
    fit_methods,
    machine_info,
    step_envs,
    targets,
)
from .local_cluster import LocalCluster, fetch_throughput
from .memcpy_floor import memcpy_seconds_in_child
from .report import write_results
from .seed.common import delete_objects, seed_dir
from .summary import PHASES, handoff_seconds, ratios, summarize
from .variants import DEFAULT, Variant, order, parse

DEFAULT_MULTIPLIERS = "10,100,300"
RESULTS_ROOT = Path("bench/results")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pipeline-bench",
        description="Benchmark the seed's method and ours, each with NAS and with vineyard, "
        "side by side (interleaved, each step its own process).",
    )
    parser.add_argument(
        "--multipliers",
        default=DEFAULT_MULTIPLIERS,
        help=f"comma-separated data multipliers (default {DEFAULT_MULTIPLIERS}; 2000 is the "
        "seed's size: 7.4 GB raw on disk and about 8 GB of shared memory)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant and multiplier")
    parser.add_argument(
        "--variants",
        default=",".join(v.name for v in DEFAULT),
        help="comma-separated variants to run, interleaved (default: %(default)s; also "
        "nas-p2, vineyard-p2: ours with the rows in 2 partitions, or -pN for N)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results directory (default bench/results/LABEL)"
    )
    parser.add_argument(
        "--label", default=None, help="names the default results directory (default: hostname)"
    )
    add_data_dir(parser)
    parser.add_argument(
        "--vineyard-socket",
        default=None,
        help="use this running vineyard for every vineyard run instead of one vineyardd per run",
    )
    parser.add_argument(
        "--vineyardd",
        choices=tuple(bench_vineyardd.CONFIGS),
        default=None,
        help="the per-run vineyardd: fluid (the default, as Fluid's VineyardRuntime starts it: "
        "--reserve_memory, the whole size faulted in at start-up, which is timed apart) or "
        "plain (as vineyard-local starts it)",
    )
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
        help="the raw table before each preprocess, for every variant alike: read into the page "
        "cache (default) or evicted from it",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the untimed M=1 run per variant that loads the steps' code into the page cache",
    )
    parser.add_argument(
        "--no-first-touch",
        action="store_true",
        help="skip touching the machine's free memory once before measuring",
    )
    parser.add_argument(
        "--first-touch-gib",
        type=float,
        default=None,
        help="touch at most this much (default: all that is available, less 3 GiB)",
    )
    parser.add_argument(
        "--cross-node-mib",
        type=int,
        default=256,
        help="size of the two-node fetch measured at the end (two vineyardd sharing one etcd); "
        "0 skips it (default 256)",
    )
    parser.add_argument(
        "--fit-methods-up-to",
        type=int,
        default=300,
        help="after each vineyard run at this M or below, time train's fit and scikit-learn's "
        "on the same handed-over arrays (default 300; 0 skips it)",
    )
    parser.add_argument("--note", default="", help="a line stored with the results (e.g. load)")
    add_debug(parser)
    return parser


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_multipliers(text: str) -> list[int]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise UsageError("--multipliers is empty: give e.g. 10,100,300")
    return [check_multiplier(v) for v in values]


def cross_node_fetch(nbytes: int) -> dict:
    """Throughput of reading a split another vineyardd holds: the cost of landing on a node
    without the data (the two-node setup of the reliability tests, measured here)."""
    progress(f"cross-node fetch: {nbytes >> 20} MiB between two vineyardd sharing one etcd")
    size = f"{2 * nbytes + (256 << 20)}"  # the split, its migrated copy, and headroom
    with (
        tempfile.TemporaryDirectory(prefix="shmpipe-bench-") as directory,
        LocalCluster(Path(directory), nodes=2, size=size) as cluster,
    ):
        return fetch_throughput(cluster.sockets[0], cluster.sockets[1], nbytes)


class CacheControl:
    """The hook run before each step, so that every variant starts from the same page cache.

    Before preprocess: the raw table is read into the page cache (`warm`, the default) or evicted
    (`cold`), for every variant alike. Without this the first run after the raw table was
    prepared, or pushed out by a large run, pays for reading it from disk and the others do not.
    Before train the raw table leaves the page cache again: it is preprocess's input only, and in
    a cluster its cache sits on the NAS server or preprocess's node, not in train's memory.
    Before train and evaluate: a NAS run's split files are evicted, so they are read cold, as
    from a NAS.
    With `drop_all` (--drop-caches) every cache is dropped before train and evaluate, for every
    variant.
    """

    def __init__(self, split_dirs: list[Path], raw: Path, raw_mode: str, drop_all: bool):
        """`split_dirs`: where a NAS run's split files lie (each partition's folder), else []."""
        self.split_dirs = list(split_dirs)
        self.raw, self.raw_mode, self.drop_all = raw, raw_mode, drop_all
        self.raw_cache: dict = {}
        self.evicted: dict[str, dict] = {}
        self.dropped_all: list[str] = []  # the steps before which every cache was dropped

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
        files = [f for d in self.split_dirs for f in cold_cache.files_under(d)]
        nbytes = cold_cache.evict(files)
        if self.drop_all:
            # Every variant alike, as the seed's steps drop every cache in both its pipelines:
            # it also drops the interpreter's and libraries' pages, which the next step reads
            # back from disk, and a NAS run alone must not pay that.
            cold_cache.drop_all_caches()
            self.dropped_all.append(step)
        if self.split_dirs:
            self.evicted[step] = {
                "bytes": nbytes,
                "resident_after_bytes": cold_cache.resident_bytes(files),
            }


def run_seed_steps(
    store: str,
    multiplier: int,
    data_dir: Path,
    run_id: str,
    sock: str | None,
    before_step,
    signals: SignalForwarding | None = None,
) -> list[StepRun]:
    """The seed's three steps, each `python -m shmpipe_bench.seed.<step>` in its own process,
    measured as the pipeline's own steps are (shmpipe_pipeline.steps.run_step)."""
    env = dict(os.environ)
    if sock:
        env["VINEYARD_IPC_SOCKET"] = sock  # what Fluid's mount gives the seed's pods
    common = ["--store", store, "--data-dir", str(data_dir), "--run-id", run_id]
    steps = []
    for step in STEPS:
        before_step(step)
        args = ["-m", f"shmpipe_bench.seed.{step}", *common]
        if step == "preprocess":
            args += ["--multiplier", str(multiplier)]
        if signals is not None:
            signals.check()
        result = run_step(step, args, env, signals=signals, executable=sys.executable)
        if signals is not None:
            signals.check(step)
        result.stage = step
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            raise StepError(
                f"seed step {step} failed (exit {result.returncode}): {lines[-1] if lines else ''}"
            )
        steps.append(result)
    return steps


def step_figures(step: StepRun, record: dict) -> dict:
    """One step: wall time as the parent saw it; phases and peak RSS as the step saw itself
    (wait4's peak starts at the benchmark process's own: exec hands it down)."""
    phases = record.get("phases", {})
    figures = {
        "name": step.name,
        "stage": step.stage or step.name,
        "wall_s": step.seconds,
        "peak_rss_bytes": record.get("peak_rss_bytes") or step.peak_rss_bytes,
        "user_s": step.user_s,
        "system_s": step.system_s,
        "minor_faults": step.minor_faults,
        "major_faults": step.major_faults,
        "startup_s": record.get("startup_s", 0.0),
    }
    for phase in PHASES[1:]:
        figures[f"{phase}_s"] = phases.get(phase, 0.0)
    # Interpreter exit, and anything between the phases: part of what the pod pays.
    accounted = sum(figures[f"{p}_s"] for p in PHASES)
    figures["other_s"] = max(0.0, step.seconds - accounted)
    figures["record"] = record
    return figures


@contextmanager
def vineyard_for(variant: Variant, config: str, external: str | None, multiplier: int):
    """(each partition's socket, start-up record) for a run: none for NAS, the given one for
    every partition, or one vineyardd of its own per partition (a cluster's node each), each
    sized for its partition's share."""
    partitions = variant.partitions
    if variant.store != "vineyard":
        yield [None] * partitions, {}
        return
    if external:
        yield [external] * partitions, {"config": "external", "socket": external}
        return
    size = bench_vineyardd.quota_bytes(multiplier, partitions)
    with ExitStack() as stack:
        daemons = [
            stack.enter_context(bench_vineyardd.per_run(config, size)) for _ in range(partitions)
        ]
        record = {
            "config": config,
            "size_bytes": size,
            "daemons": partitions,
            # One after another here; each node's would start at once in a cluster.
            "start_s": round(sum(d.start_s for d in daemons), 3),
        }
        yield [d.socket for d in daemons], record


class Timed:
    """A before-step hook that also sums its own time, so a run's elapsed time can leave it
    out as the steps' wall times do."""

    def __init__(self, hook):
        self.hook, self.seconds = hook, 0.0

    def __call__(self, step: str) -> None:
        start = time.perf_counter()
        try:
            self.hook(step)
        finally:
            self.seconds += time.perf_counter() - start


def one_run(
    variant: Variant,
    multiplier: int,
    repeat: int,
    data_dir: Path,
    config: str = "plain",
    external: str | None = None,
    drop_all: bool = False,
    raw_mode: str = "warm",
    commands: dict[str, str] | None = None,
    signals: SignalForwarding | None = None,
    fit_methods_up_to: int = 0,
) -> dict:
    run_id = f"bench-{os.getpid()}-m{multiplier}-r{repeat}-{variant.name}"
    partitions = variant.partitions
    split_dirs = []
    if variant.store == "nas" and variant.method == "seed":
        split_dirs = [seed_dir(data_dir, run_id)]
    elif variant.store == "nas":
        split_dirs = [
            RunLayout(data_dir, run_id).split_dir(None if partitions == 1 else k)
            for k in range(partitions)
        ]
    control = CacheControl(split_dirs, raw_path(data_dir, multiplier), raw_mode, drop_all)
    cold = Timed(control)
    with vineyard_for(variant, config, external, multiplier) as (sockets, daemon):
        sock = sockets[0]
        load = machine_info.load_average()
        failed = True
        try:
            started = time.perf_counter()
            if variant.method == "seed":
                steps = run_seed_steps(
                    variant.store, multiplier, data_dir, run_id, sock, cold, signals
                )
            else:
                spec = RunSpec(
                    variant.store,
                    multiplier,
                    data_dir,
                    run_id,
                    sock if partitions == 1 else None,
                    commands=commands,
                    partitions=partitions,
                )
                steps = run_steps(spec, before_step=cold, signals=signals, sockets=sockets)
            # This machine's clock from the first step's start to the last's exit, the hooks
            # between steps (cache control, untimed) left out: the runner's own gaps count.
            elapsed = time.perf_counter() - started - cold.seconds
            records = {s.name: read_step_record(data_dir, run_id, s.name) for s in steps}
            # What each partition's vineyardd holds once the steps are done: a node's share.
            usage = [memory_usage(each) for each in dict.fromkeys(sockets)] if sock else None
            mse = last_json(steps[-1].stdout).get("mse")
            fits = None
            if variant.name == "vineyard" and multiplier <= fit_methods_up_to:
                fits = fit_methods.measure_in_child("vineyard", data_dir, run_id, sock)
            failed = False
        finally:
            # Delete the run's data whatever happened, so the next run finds memory and disk free:
            # from every partition's vineyardd.
            try:
                for each in dict.fromkeys(sockets):
                    delete_intermediates(data_dir, run_id, variant.store, each)
                if variant.method == "seed" and sock:
                    delete_objects(sock, run_id)
            except StepError:
                # After a failed step (a vineyardd that died, say) its error is the one said;
                # a cleanup that then fails too must not replace it.
                if not failed:
                    raise
            after = [memory_usage(each) for each in dict.fromkeys(sockets)] if sock else [None]
            usage_after = None if None in after else sum(after)
            shutil.rmtree(RunLayout(data_dir, run_id).dir, ignore_errors=True)
    split_bytes = [
        sum(records[s.name]["bytes"][n] for s in steps if s.stage == "preprocess")
        for n in SPLIT_NAMES
    ]
    copies = memcpy_seconds_in_child(split_bytes)
    figures = [step_figures(s, records[s.name]) for s in steps]
    return {
        "variant": variant.name,
        "method": variant.method,
        "store": variant.store,
        "partitions": partitions,
        "multiplier": multiplier,
        "repeat": repeat,
        "run_id": run_id,
        "mse": mse,
        "load_average_before": load,
        "vineyardd": daemon,
        "steps": figures,
        # As a cluster runs them: a step's processes at once, each step as long as its slowest
        # (measured here, on cores the processes share).
        "e2e_s": wall_seconds(steps),
        "elapsed_s": elapsed,
        "handoff_s": handoff_seconds({f["name"]: f["record"]["phases"] for f in figures}),
        "handoff_bytes": sum(split_bytes),
        "memcpy_s": copies["floor_s"],
        "memcpy_fresh_s": copies["fresh_s"],
        "fit_methods": fits,
        "cold_reads": control.evicted,
        "caches_dropped_before": control.dropped_all,
        "raw_cache": control.raw_cache,
        "vineyard_usage_bytes": usage,
        "vineyard_usage_after_cleanup_bytes": usage_after,
    }


def describe_run(run: dict) -> str:
    steps = " ".join(f"{s['name']} {s['wall_s']:.2f}s" for s in run["steps"])
    if run.get("partitions", 1) > 1:
        steps += f" | elapsed here {run['elapsed_s']:.2f}s"
    return f"{steps} | e2e {run['e2e_s']:.2f}s handoff {run['handoff_s']:.3f}s mse {run['mse']:.6g}"


def external_vineyard(cli_socket: str | None) -> str | None:
    """A vineyard the user pointed at (flag or environment), used as is; else None."""
    if cli_socket is None and not os.environ.get("VINEYARD_IPC_SOCKET"):
        return None
    vineyard = Vineyard(cli_socket)
    if not vineyard.up():
        raise UsageError(f"no vineyard answers on {vineyard.socket}: start it or drop the flag")
    return vineyard.socket


def bench(args) -> dict:
    with ExitStack() as stack:
        return _bench(args, stack)


def _bench(args, stack: ExitStack) -> dict:
    multipliers = parse_multipliers(args.multipliers)
    chosen = parse(args.variants)
    # The steps run with Python's default bytecode cache, as the images ship compiled bytecode:
    # with PYTHONDONTWRITEBYTECODE set, every step would compile scikit-learn, pandas and vineyard
    # from source at each start (7-20 s per step here) and time that instead. The warm-up run
    # writes the caches.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if args.repeats < 1:
        raise UsageError(f"--repeats {args.repeats}: give at least 1")
    if args.drop_caches and not cold_cache.can_drop_all_caches():
        raise UsageError("--drop-caches needs root (it writes /proc/sys/vm/drop_caches)")
    external = external_vineyard(args.vineyard_socket)
    if external and args.vineyardd is not None:
        raise UsageError("--vineyardd starts a vineyardd per run: drop it or --vineyard-socket")
    out = args.out or RESULTS_ROOT / (args.label or socket.gethostname())
    data_dir = Path(args.data_dir)
    machine = machine_info.describe(data_dir)
    started = time.perf_counter()
    touched = None
    if not args.no_first_touch:
        limit = None if args.first_touch_gib is None else int(args.first_touch_gib * 2**30)
        touched = first_touch.touch_free_memory(limit)
        progress(
            f"first touch: wrote {touched['bytes'] / 2**30:.1f} GiB of free memory once in "
            f"{touched['seconds']:.1f} s, then released it"
        )
    progress("our steps' environments, as their images have them (uv sync per step image)")
    commands = step_envs.build()
    run_args = {
        "commands": commands,
        "config": args.vineyardd or "fluid",
        "external": external,
        "drop_all": args.drop_caches,
        "raw_mode": args.raw,
        "fit_methods_up_to": args.fit_methods_up_to,
    }
    runs: list[dict] = []
    total = len(multipliers) * args.repeats * len(chosen)
    # SIGINT and SIGTERM while a step runs go to the step, which is waited for; then the run's
    # vineyardd is stopped and its data deleted (one_run), and nothing is left running.
    signals = run_args["signals"] = stack.enter_context(SignalForwarding())
    if not args.no_warmup:
        progress("warm-up: one untimed M=1 run per variant (loads the steps' code and libs)")
        prepare_raw(data_dir, 1, signals=signals)
        for variant in chosen:
            one_run(variant, 1, -1, data_dir, **run_args)
            signals.check()
    # A bar over the timed runs when someone watches a terminal (an M=2000 run takes half an hour).
    with bars.bar(total, "benchmark runs", "run") as runs_bar:
        for multiplier in multipliers:
            progress(f"M={multiplier}: preparing the raw table (untimed)")
            prepare_raw(data_dir, multiplier, signals=signals)
            for repeat in range(args.repeats):
                for variant in order(repeat, chosen):
                    result = one_run(variant, multiplier, repeat, data_dir, **run_args)
                    signals.check()  # a signal during the memcpy floor: stop here too
                    runs.append(result)
                    progress(
                        f"[{len(runs)}/{total}] M={multiplier} repeat {repeat + 1}/"
                        f"{args.repeats} {variant.name:<13} {describe_run(result)}"
                    )
                    runs_bar.update()
    stack.close()  # SIGINT and SIGTERM as before: the runs are done
    machine["load_average_end"] = machine_info.load_average()
    # A child's peak RSS starts at its parent's peak (vfork + exec): this is the floor under
    # every step's figure, so it must stay small.
    machine["bench_process_peak_rss_bytes"] = peak_rss_bytes()
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
            "variants": [v.name for v in chosen],
            "partitions": {v.name: v.partitions for v in chosen},
            "interleaving": "the variants in turn, the order rotated by one each repeat",
            "vineyardd": "external"
            if external
            else f"{run_args['config']}, one per vineyard run (per partition: one each)",
            "cold_nas_reads": "drop_caches" if args.drop_caches else "fsync+fadvise(DONTNEED)",
            "raw_table_before_preprocess": args.raw,
            "warmup": not args.no_warmup,
            "our_steps_environment": "one per step image, without "
            + ", ".join(step_envs.left_out()),
            "data_dir": str(data_dir),
            "note": args.note,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "first_touch": touched,
        "summary": summary,
        "ratios": ratios(summary),
        "targets": targets.evaluate(summary),
        "runs": runs,
        "cross_node_fetch": fetch,
    }
    write_results(out, results)
    progress(f"wrote {out}/results.json, results.md, results.png, scaling.png")
    return results


def main(argv: list[str] | None = None) -> int:
    # Stopped with SIGTERM (kill, a CI timeout): unwind, so the per-run vineyardd is stopped and
    # the run's data deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def body(args):
        try:
            results = bench(args)
        except Interrupted as e:
            # SystemExit passes through `run`: the exit code is the signal's, as a shell's.
            print(f"pipeline-bench: {e}; no results written", file=sys.stderr, flush=True)
            raise SystemExit(e.exit_code) from None
        for t in results["targets"]:
            print(f"{t['status']:<13} {t['target']}: {t['detail']}")

    return run(build_parser(), body, argv)


if __name__ == "__main__":
    sys.exit(main())
