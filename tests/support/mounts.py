"""A small tmpfs mounted for one command, in a private mount namespace."""

import shutil
import subprocess

from tests.support.ci import require


def in_small_mount(data_dir, script: str, where=None, options: str = "size=2m"):
    """Run `script` with a tmpfs (`options`: 2 MB) mounted on the data dir's runs/, or on
    `where` (a private mount namespace: nothing outside the test sees it)."""
    where = where or data_dir / "runs"
    where.mkdir(parents=True, exist_ok=where != data_dir / "runs")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    require(shutil.which("unshare") and probe.returncode == 0,
            "unshare -rm (user and mount namespaces) is not available")  # fmt: skip
    mount = f"mount -t tmpfs -o {options} tmpfs {where}"
    return subprocess.run(["unshare", "-rm", "sh", "-c", f"{mount} && {script}"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
