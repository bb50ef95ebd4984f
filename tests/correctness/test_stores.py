"""Each store round-trips the split exactly; vineyard reads are zero-copy and interoperate with
stock vineyard clients."""

import os

import numpy as np
import pytest
from shmpipe_core.errors import StepError
from shmpipe_core.nas_store import NasStore
from shmpipe_core.vineyard_store import VineyardStore

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
    # A feature matrix is stored feature-major (see vineyard_store): stock clients get X.T.
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


def test_writable_vineyard_read_is_private_copy_on_write(vineyard_socket):
    store = VineyardStore.connect(vineyard_socket)
    arrays = sample_arrays()
    write(store, "cow", arrays)
    mine, _ = store.read("cow", ["X_train"], writable=True)
    assert mine["X_train"].flags.writeable and mine["X_train"].flags.f_contiguous
    np.testing.assert_array_equal(mine["X_train"], arrays["X_train"])
    mine["X_train"] -= 1.0  # what scikit-learn's in-place centring does
    theirs, _ = VineyardStore.connect(vineyard_socket).read("cow", ["X_train"])
    np.testing.assert_array_equal(theirs["X_train"], arrays["X_train"])
    store.delete("cow")


def test_copy_on_write_finds_the_mapped_file_by_device_and_inode():
    """Inode numbers repeat across file systems (a pipe's can equal vineyard's memfd's): the
    descriptor to map privately must match both, or train maps a pipe and fails (ENODEV)."""
    from shmpipe_core.copy_on_write import _descriptor_of

    read_end, write_end = os.pipe()
    try:
        info = os.fstat(read_end)
        with pytest.raises(LookupError):
            _descriptor_of((info.st_dev + 1, info.st_ino))
        assert _descriptor_of((info.st_dev, info.st_ino)) in (read_end, write_end)
    finally:
        os.close(read_end)
        os.close(write_end)
