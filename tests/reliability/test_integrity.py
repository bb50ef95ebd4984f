"""Integrity: train and evaluate check what they load against the split's manifest and
refuse a valid-looking array that is not the one preprocess wrote."""

import json

import numpy as np
import pyarrow as pa
from shmpipe_core.vineyard_client import vineyard_c
from shmpipe_core.vineyard_store import VineyardStore, _SealAs, tensor_meta

from tests.support.processes import run_cli


def assert_refused(result, *words):
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "does not match its manifest" in line, line
    for word in words:
        assert word in line


def test_nas_refuses_a_swapped_tensor_file(data_dir):
    common = ["--data-dir", data_dir, "--run-id", "integ"]
    run_cli("preprocess", "--sink", "nas", *common)
    split = data_dir / "runs" / "integ" / "splits"
    files = json.loads((split / "manifest.json").read_text())["files"]
    # A different, perfectly valid Arrow tensor of the same shape and dtype.
    with pa.OSFile(str(split / files["X_train"])) as f:
        X = pa.ipc.read_tensor(f).to_numpy()
    with pa.OSFile(str(split / files["X_train"]), "wb") as f:
        pa.ipc.write_tensor(pa.Tensor.from_numpy(np.asfortranarray(X * 2)), f)
    assert_refused(run_cli("train", "--source", "nas", *common, check=False), "checksum")
    # The test targets in place of the train targets: caught by their shape.
    run_cli("preprocess", "--sink", "nas", *common)
    files = json.loads((split / "manifest.json").read_text())["files"]
    (split / files["y_train"]).unlink()
    (split / files["y_train"]).hardlink_to(split / files["y_test"])
    assert_refused(run_cli("train", "--source", "nas", *common, check=False), "shape")


def test_vineyard_refuses_a_different_tensor_under_the_splits(data_dir, vineyard_socket):
    common = ["--data-dir", data_dir, "--run-id", "integ-v", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", "vineyard", *common)
    store = VineyardStore.connect(vineyard_socket)
    client = store.client
    splits = client.get_object(client.get_name("integ-v/splits"))
    # Rebuild the splits with the same manifest, but X_train replaced by another tensor.
    X_stored = np.asarray(store.read_array("integ-v/X_train"))
    builder = client.create_blob(X_stored.nbytes)
    np.frombuffer(memoryview(builder), dtype=np.float64)[...] = (X_stored + 1).ravel()
    forged = client.create_metadata(
        tensor_meta(builder.seal(_SealAs(client)), X_stored.shape, np.dtype(np.float64))
    )
    meta = vineyard_c().ObjectMeta()
    meta["typename"] = "shmpipe::Splits"
    meta["manifest_"] = splits.meta["manifest_"]
    for name in ("X_train", "X_test", "y_train", "y_test"):
        meta.add_member(name, forged if name == "X_train" else splits.member(name).meta)
    meta = client.create_metadata(meta)
    client.persist(meta.id)
    client.put_name(meta.id, "integ-v/splits")
    result = run_cli("train", "--source", "vineyard", *common, check=False)
    assert_refused(result, "integ-v/X_train", "checksum")
    store.delete("integ-v")
