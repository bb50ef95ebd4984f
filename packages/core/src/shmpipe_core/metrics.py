"""What a step measures about itself: start-up, per-phase seconds, rows, bytes, peak memory.

Start-up is process start to the step's main (interpreter, imports).

Phases: `connect` (opening the store: for vineyard, loading its client and connecting, paid once
per pod like start-up), `load` (reading inputs), `compute`, `save` (publishing outputs), and the
store's own work around them: `allocate` (preprocess: the store's destination memory, faulted
in), `page_in` (train, evaluate: mapping the split's pages in, and out again behind train's
kernel), `private_copy` (train, only where it falls back to scikit-learn: a writable copy).
`compute` is the same code for every store; anything a store makes a step do is one of the other
phases. The handoff between steps is preprocess's allocate and save, train's load, page_in and
private_copy, and evaluate's load and page_in.
"""

import os
import resource
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .files import write_json
from .layout import RunLayout


def booked(metrics, phase: str):
    """`metrics.phase(phase)`, or nothing where no metrics are kept."""
    return nullcontext() if metrics is None else metrics.phase(phase)


def process_age_s() -> float:
    """Seconds since the kernel started this process: start-up (interpreter, imports) included."""
    with open("/proc/self/stat") as f:
        # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    started_ticks = int(fields[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - started_ticks / os.sysconf("SC_CLK_TCK")


def maxrss_bytes(usage: resource.struct_rusage) -> int:
    """The peak RSS in a resource usage (getrusage's or wait4's), in bytes."""
    # Linux reports ru_maxrss in KiB. Shared memory the process touched counts too.
    return usage.ru_maxrss * 1024


def peak_rss_bytes() -> int:
    """This process's peak RSS so far, in bytes: its own memory's high-water mark (VmHWM).
    Not getrusage's, which starts at the parent's peak: exec records the parent's memory,
    which a spawned child shares until then, as the child's."""
    return _status_bytes("VmHWM:") or maxrss_bytes(resource.getrusage(resource.RUSAGE_SELF))


_private_peak = 0
_sampling = threading.Lock()


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def private_bytes() -> int:
    """This process's private (anonymous) resident memory now: RssAnon, without the mapped file
    and shared pages that RSS counts too."""
    return _status_bytes("RssAnon:")


def _sample_private_peak() -> None:
    # The kernel keeps a high-water mark only for RSS as a whole (VmHWM), which counts a mapped
    # split as if it were copied: private memory's peak is sampled.
    global _private_peak
    while True:
        _private_peak = max(_private_peak, private_bytes())
        time.sleep(0.01)


@dataclass
class StepMetrics:
    step: str
    store: str
    run_id: str
    startup_s: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    # RSS once the interpreter and the step's code are loaded, before any data: the peak above
    # it is what the step's data cost it.
    start_rss_bytes: int = 0
    peak_rss_bytes: int = 0
    peak_private_bytes: int = 0
    notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, step: str, store: str, run_id: str) -> "StepMetrics":
        if _sampling.acquire(blocking=False):  # one sampler per process, held for its life
            threading.Thread(target=_sample_private_peak, name="private-peak", daemon=True).start()
        return cls(
            step,
            store,
            run_id,
            startup_s=round(process_age_s(), 4),
            start_rss_bytes=_status_bytes("VmRSS:"),
        )

    @contextmanager
    def phase(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[name] = round(self.phases.get(name, 0.0) + time.perf_counter() - t0, 6)

    def count(self, name: str, array) -> None:
        self.rows[name] = int(array.shape[0])
        self.bytes[name] = int(array.nbytes)

    def finish(self, data_dir: Path) -> dict:
        self.peak_rss_bytes = peak_rss_bytes()
        self.peak_private_bytes = max(_private_peak, private_bytes())
        record = asdict(self)
        # Every component checked, not only the run's: a link at steps/ would lead the write out.
        path = RunLayout(data_dir, self.run_id).step_record(self.step)
        write_json(path, record)
        return record
