"""The seed's steps (shmpipe_bench.seed) against the seed's scripts (v6d
k8s/examples/vineyard-kubeflow/{preprocess/preprocess.py,train/train.py,test/test.py})."""

import vineyard
from shmpipe_bench.seed import evaluate, preprocess, train
from shmpipe_core.runs import delete_intermediates

from tests.support.vineyard import names


def test_each_seed_step_uses_one_vineyard_client(data_dir, vineyard_socket, monkeypatch):
    """The seed's scripts connect once per step (`client = vineyard.connect()`) and put or get
    every frame on that client, as these steps must; the module-level `vineyard.put` and
    `vineyard.get` call `vineyard.connect()` again for each frame (cheap: the client library
    reuses its connection, but not what the seed does)."""
    monkeypatch.setenv("VINEYARD_IPC_SOCKET", vineyard_socket)
    connects = []
    real = vineyard.connect

    def counted(*args, **kwargs):  # the real connect, counted: put and get look it up here too
        connects.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(vineyard, "connect", counted)
    run_id = "seed-one-client"
    common = ["--store", "vineyard", "--data-dir", str(data_dir), "--run-id", run_id]
    try:
        for step, extra in ((preprocess, ["--multiplier", "1"]), (train, []), (evaluate, [])):
            connects.clear()
            assert step.main([*common, *extra]) == 0, step.__name__
            assert len(connects) == 1, step.__name__
        assert set(names(vineyard_socket, f"{run_id}/*")) == {
            f"{run_id}/{n}" for n in ("x_train", "x_test", "y_train", "y_test")
        }
    finally:
        delete_intermediates(data_dir, run_id, "vineyard", vineyard_socket)
