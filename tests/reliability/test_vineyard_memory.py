"""What vineyardd 0.24.2 does with its memory, as the project's docs say: the pages of a deleted
object stay in its memfd (why the benchmark starts one vineyardd per run), and what a client that
dies allocated stays used (tests/README.md, Limits)."""

import os
import signal
import subprocess
import sys

import numpy as np
from shmpipe_core.stores.vineyard import VineyardStore
from shmpipe_core.vineyard.client import vineyard_c

from tests.support.vineyard import memory_usage

MIB = 1 << 20


def memfd_bytes(pid: int) -> int:
    """The bytes the memory behind vineyardd's arena (its memfd) holds now."""
    held = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "vineyard-bulk" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                held += os.stat(f"/proc/{pid}/fd/{fd}").st_blocks * 512
        except OSError:
            pass
    return held


def commit(socket: str) -> VineyardStore:
    store = VineyardStore.connect(socket)
    writer = store.writer("m")
    writer.allocate("y", (64 * MIB // 8,))[...] = np.float64(1.0)
    writer.commit([])
    return store


def test_deleted_objects_keep_their_pages_unless_trimmed(vineyardd):
    socket, process = vineyardd(size="256Mi")
    before = memfd_bytes(process.pid)
    commit(socket).delete("m")  # as `cleanup` deletes a run
    assert memory_usage(socket) == 0
    assert memfd_bytes(process.pid) - before >= 64 * MIB
    # Only a delete that asks for it gives them back (MADV_REMOVE).
    store = commit(socket)
    names = store.client.list_names("m/*", limit=100)
    for name in names:
        store.client.drop_name(name)
    for object_id in set(names.values()):
        try:
            store.client.delete(object_id, force=False, deep=True, memory_trim=True)
        except vineyard_c().ObjectNotExistsException:
            pass  # a member of an object deleted just before
    assert memory_usage(socket) == 0
    assert memfd_bytes(process.pid) - before < MIB


def test_what_a_killed_client_allocated_stays_used(vineyardd):
    socket, _ = vineyardd(size="256Mi")
    child = (
        "import os, signal, sys\n"
        "from shmpipe_core.vineyard.client import try_connect\n"
        "blob = try_connect(sys.argv[1]).create_blob(16 << 20)\n"
        "memoryview(blob)[0] = 1\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", child, socket], timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert memory_usage(socket) == 16 * MIB
