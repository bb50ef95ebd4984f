"""Each store round-trips the split exactly; vineyard reads are zero-copy and interoperate with
stock vineyard clients."""

import mmap
import resource

import numpy as np
import pytest
from shmpipe_core.errors import StepError
from shmpipe_core.metrics import StepMetrics
from shmpipe_core.pages import drop_pages, populate_for_read, shared_mapping
from shmpipe_core.private_copy import private_copy
from shmpipe_core.stores.nas import NasStore
from shmpipe_core.stores.vineyard import VineyardStore

from tests.support.vineyard import start_vineyardd

FEATURES = ["a", "b", "c"]


def sample_arrays(rows=1000):
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.random((rows, len(FEATURES))))
    return {"X_train": X, "y_train": rng.random(rows)}


def write(store, run_id, arrays):
    writer = store.writer(run_id)
    for name, value in arrays.items():
        order = "F" if value.ndim == 2 else "C"
        writer.allocate(name, value.shape, order)[...] = value
    return writer.commit(FEATURES)


@pytest.fixture(params=["nas", "vineyard"])
def store(request, tmp_path, vineyard_socket):
    if request.param == "nas":
        return NasStore(tmp_path)
    return VineyardStore.connect(vineyard_socket)


def test_round_trip(store, request):
    run_id = f"rt-{request.node.callspec.id}"
    arrays = sample_arrays()
    manifest = write(store, run_id, arrays)
    got, got_manifest = store.read(run_id, list(arrays))
    assert got_manifest == manifest
    for name, value in arrays.items():
        np.testing.assert_array_equal(got[name], value)
        assert got[name].dtype == np.float64
    assert got["X_train"].flags.f_contiguous  # the layout LAPACK wants, no conversion copy
    assert store.delete(run_id)
    with pytest.raises(StepError, match=run_id):
        store.read(run_id, ["X_train"])


def test_rewrite_replaces_the_whole_commit(store, request):
    run_id = f"rw-{request.node.callspec.id}"
    write(store, run_id, sample_arrays(100))
    second = {k: v + 1 for k, v in sample_arrays(50).items()}
    write(store, run_id, second)
    got, _ = store.read(run_id, list(second))
    for name, value in second.items():
        np.testing.assert_array_equal(got[name], value)
    store.delete(run_id)


def test_vineyard_read_is_zero_copy(vineyard_socket):
    store = VineyardStore.connect(vineyard_socket)
    write(store, "zc", sample_arrays())
    first, _ = store.read("zc", ["X_train"])
    second, _ = store.read("zc", ["X_train"])
    # Two reads see the same shared memory: no private copy was made.
    assert np.shares_memory(first["X_train"], second["X_train"]) or (
        first["X_train"].ctypes.data == second["X_train"].ctypes.data
    )
    assert not first["X_train"].flags.writeable
    store.delete("zc")


def test_stock_client_reads_our_objects(vineyard_socket):
    import vineyard

    arrays = sample_arrays()
    store = VineyardStore.connect(vineyard_socket)
    write(store, "interop", arrays)
    client = vineyard.connect(vineyard_socket)
    # A feature matrix is stored feature-major (see stores/vineyard.py): stock clients get X.T.
    np.testing.assert_array_equal(client.get(name="interop/X_train"), arrays["X_train"].T)
    np.testing.assert_array_equal(client.get(name="interop/y_train"), arrays["y_train"])
    store.delete("interop")


def test_we_read_stock_clients_objects(vineyard_socket):
    import vineyard

    client = vineyard.connect(vineyard_socket)
    value = np.arange(12.0).reshape(3, 4)
    client.put(value, persist=True, name="stock/matrix")
    store = VineyardStore.connect(vineyard_socket)
    np.testing.assert_array_equal(store.read_array("stock/matrix"), value)
    store.delete("stock")


def test_aborted_write_publishes_nothing(store, request):
    run_id = f"ab-{request.node.callspec.id}"
    writer = store.writer(run_id)
    writer.allocate("X_train", (10, 3), "F")[...] = 1.0
    writer.abort()
    with pytest.raises(StepError):
        store.read(run_id, ["X_train"])


def test_a_writer_commits_on_a_clean_exit_and_aborts_on_an_error(store, request, tmp_path):
    run_id = f"cm-{request.node.callspec.id}"
    metrics = StepMetrics.start("preprocess", store.kind, run_id)
    with pytest.raises(RuntimeError), store.writer(run_id, FEATURES, metrics) as split:
        split.allocate_all({"X_train": ((10, 3), "F")})["X_train"][...] = 1.0
        raise RuntimeError("the fill failed")
    with pytest.raises(StepError):
        store.read(run_id, ["X_train"])  # nothing of the failed write is visible
    arrays = sample_arrays(10)
    with store.writer(run_id, FEATURES, metrics) as split:
        out = split.allocate_all({"X_train": ((10, 3), "F"), "y_train": ((10,), "C")})
        for name, value in arrays.items():
            out[name][...] = value
    assert {"allocate", "save"} <= set(metrics.phases)
    got, manifest = store.read(run_id, list(arrays))
    assert manifest["features"] == FEATURES
    np.testing.assert_array_equal(got["X_train"], arrays["X_train"])
    store.delete(run_id)


@pytest.mark.parametrize("hand_out", ["mapped", "resident", "writable"])
def test_read_hands_out_what_the_step_asks_for_and_books_it(store, request, hand_out):
    run_id = f"ho-{request.node.callspec.id}"
    arrays = sample_arrays()
    write(store, run_id, arrays)
    metrics = StepMetrics.start("train", store.kind, run_id)
    got, _ = store.read(run_id, list(arrays), metrics, hand_out)
    for name, value in arrays.items():
        np.testing.assert_array_equal(got[name], value)
        assert got[name].flags.writeable == (hand_out == "writable")
        assert metrics.bytes[name] == value.nbytes
    assert "load" in metrics.phases
    assert ("page_in" in metrics.phases) == (hand_out == "resident")
    assert ("private_copy" in metrics.phases) == (hand_out == "writable")
    if hand_out == "writable":
        assert metrics.bytes["private_copy"] == sum(a.nbytes for a in arrays.values())
        got["X_train"][0, 0] = -1.0  # the step's own: the store's copy is untouched
        assert store.read(run_id, ["X_train"])[0]["X_train"][0, 0] == arrays["X_train"][0, 0]
    store.delete(run_id)


def _mapped_bytes(array):
    """How much of `array`'s memory is mapped into this process: its pages present in
    /proc/self/pagemap (bit 63 of each page's 64-bit entry)."""
    page = mmap.PAGESIZE
    first = array.ctypes.data // page
    count = -(-(array.ctypes.data + array.nbytes) // page) - first
    with open("/proc/self/pagemap", "rb") as pagemap:
        pagemap.seek(first * 8)
        entries = np.frombuffer(pagemap.read(count * 8), dtype=np.uint64)
    return int(np.count_nonzero(entries >> np.uint64(63))) * page


def test_private_copy_of_a_vineyard_read_is_the_callers_own(vineyard_socket):
    store = VineyardStore.connect(vineyard_socket)
    arrays = sample_arrays(rows=200_000)
    write(store, "own", arrays)
    shared = store.read("own", ["X_train"])[0]["X_train"]
    assert not shared.flags.writeable
    populate_for_read(shared)
    resident_before = _mapped_bytes(shared)

    mine = private_copy(shared)

    assert mine.flags.writeable and mine.flags.f_contiguous
    np.testing.assert_array_equal(mine, arrays["X_train"])
    # The shared pages were handed back as they were copied: the process holds the split once.
    assert resident_before - _mapped_bytes(shared) >= 0.9 * shared.nbytes
    mine -= 1.0  # what scikit-learn's in-place centring does
    theirs, _ = VineyardStore.connect(vineyard_socket).read("own", ["X_train"])
    np.testing.assert_array_equal(theirs["X_train"], arrays["X_train"])
    store.verify_unchanged()
    store.delete("own")


def test_nas_reads_map_the_files_read_only(tmp_path):
    store = NasStore(tmp_path)
    arrays = sample_arrays(rows=100_000)
    write(store, "nas-mapped", arrays)
    read = store.read("nas-mapped", ["X_train"])[0]["X_train"]
    assert not read.flags.writeable
    assert shared_mapping(read)
    np.testing.assert_array_equal(read, arrays["X_train"])


def test_private_copy_keeps_what_is_already_the_callers():
    mine = np.arange(20.0).reshape(4, 5)
    assert private_copy(mine) is mine
    strided = np.arange(20.0).reshape(4, 5)[:, ::2]
    strided.flags.writeable = False
    copy = private_copy(strided)
    assert copy.flags.writeable
    np.testing.assert_array_equal(copy, strided)


def test_vineyard_fault_in_maps_a_reserved_arena_many_pages_per_fault(short_tmp):
    """Fluid's vineyardd holds its whole arena from the start: the writer faults in a new array's
    pages several per fault, and filling the array faults no more (the pages are writable)."""
    directory = short_tmp / "reserved"
    process = start_vineyardd(directory, size="512Mi", flags=("--reserve_memory",))
    try:
        store = VineyardStore.connect(str(directory / "vineyard.sock"))
        rows = (256 << 20) // 8 // len(FEATURES)
        pages = rows * len(FEATURES) * 8 // mmap.PAGESIZE
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        writer = store.writer("reserved")
        array = writer.allocate("X_train", (rows, len(FEATURES)), "F")
        writer.fault_in()
        array[...] = 1.0
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        writer.abort()
    finally:
        process.terminate()
        process.wait(timeout=30)
    # One fault per page would be `pages`; the kernel maps 16 per read fault by default.
    assert faults < pages / 4, f"{faults} faults for {pages} pages"


def test_fault_in_makes_the_allocated_arrays_resident(store, request):
    writer = store.writer(f"fi-{request.node.callspec.id}")
    array = writer.allocate("X_train", (1 << 20, len(FEATURES)), "F")
    # Shared memory this process mapped before (reused by vineyardd) would count as faulted in.
    drop_pages(array)
    before = _mapped_bytes(array)
    writer.fault_in()
    after = _mapped_bytes(array)
    writer.abort()
    assert before < 0.1 * array.nbytes
    assert after >= array.nbytes
