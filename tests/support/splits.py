"""Reading a run's split as train and evaluate would, for tests that compare commits."""

from shmpipe_core.stores.nas import NasStore
from shmpipe_core.stores.vineyard import VineyardStore


def read(sink, data_dir, socket, run_id) -> dict:
    """The manifest's per-array descriptions, after the store checked every array against it."""
    store = NasStore(data_dir) if sink == "nas" else VineyardStore.connect(socket)
    _, manifest = store.read(run_id, ["X_train", "X_test", "y_train", "y_test"])
    return manifest["arrays"]
