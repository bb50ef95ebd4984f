"""Which machine a benchmark ran on, so its numbers can be read against the hardware."""

import os
import platform
import shutil
import socket
import time
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def meminfo_bytes(name: str) -> int:
    """A /proc/meminfo figure (MemTotal, MemAvailable, ...) in bytes; 0 where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1]) * 1024  # the kernel writes these in kB
    except OSError:
        pass
    return 0


def _filesystem(path: Path) -> str:
    """The mount holding `path` (its type tells a local disk from a network file system)."""
    best, kind = "", "unknown"
    try:
        target = str(Path(path).resolve())
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(
                best
            ):
                best, kind = mount, fstype
    except OSError:
        pass
    return f"{kind} on {best}" if best else kind


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe(data_dir: Path) -> dict:
    shm = shutil.disk_usage("/dev/shm").total if os.path.isdir("/dev/shm") else 0
    return {
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": meminfo_bytes("MemTotal"),
        "dev_shm_bytes": shm,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": load_average(),
        "data_dir_filesystem": _filesystem(data_dir),
    }
