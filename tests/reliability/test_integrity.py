"""Integrity: train and evaluate check what they load against the split's manifest and
refuse a valid-looking array that is not the one preprocess wrote."""

import json

import numpy as np
import pyarrow as pa
from shmpipe_core.manifest import checksum
from shmpipe_core.vineyard_client import vineyard_c
from shmpipe_core.vineyard_store import VineyardStore, _SealAs, tensor_meta

from tests.support.processes import assert_one_line_error, run_cli


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


def _unsampled_nan(array: np.ndarray, value: float) -> np.ndarray:
    """`array` with one element set to `value` where the manifest's sampled checksum misses it."""
    for index in range(65, array.size, 97):
        forged = array.copy(order="A")
        forged.reshape(-1, order="A")[index] = value
        if checksum(forged) == checksum(array):
            return forged
    raise AssertionError("every candidate element is sampled by the checksum")


def _rewrite(split, name: str, value: float) -> None:
    files = json.loads((split / "manifest.json").read_text())["files"]
    with pa.OSFile(str(split / files[name])) as f:
        stored = pa.ipc.read_tensor(f).to_numpy()
    with pa.OSFile(str(split / files[name]), "wb") as f:
        pa.ipc.write_tensor(pa.Tensor.from_numpy(_unsampled_nan(stored, value)), f)


def test_nan_or_inf_the_checksum_misses_is_blamed_on_the_split(data_dir):
    """The checksum samples, so a NaN or an infinity can pass it: train and evaluate then say the
    split holds them and to rerun preprocess (not "rerun train", not scikit-learn's ValueError)."""
    common = ["--data-dir", data_dir, "--run-id", "nan"]
    run_cli("preprocess", "--sink", "nas", *common)
    run_cli("train", "--source", "nas", *common)
    split = data_dir / "runs" / "nan" / "splits"
    _rewrite(split, "X_test", np.nan)
    result = run_cli("evaluate", "--source", "nas", *common, check=False)
    assert_one_line_error(result, 1, "X_test", "NaN or infinite", "rerun preprocess")
    _rewrite(split, "X_train", np.inf)
    result = run_cli("train", "--source", "nas", *common, check=False)
    assert_one_line_error(result, 1, "X_train", "NaN or infinite", "rerun preprocess")


def test_vineyard_splits_missing_a_member_is_corrupt(data_dir, vineyard_socket):
    common = ["--data-dir", data_dir, "--run-id", "memb", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", "vineyard", *common)
    store = VineyardStore.connect(vineyard_socket)
    client = store.client
    splits = client.get_object(client.get_name("memb/splits"))
    meta = vineyard_c().ObjectMeta()
    meta["typename"] = "shmpipe::Splits"
    meta["manifest_"] = splits.meta["manifest_"]
    for name in ("X_test", "y_train", "y_test"):  # no X_train
        meta.add_member(name, splits.member(name).meta)
    meta = client.create_metadata(meta)
    client.persist(meta.id)
    client.put_name(meta.id, "memb/splits")
    result = run_cli("train", "--source", "vineyard", *common, check=False)
    assert_one_line_error(result, 1, "memb/splits", "no member 'X_train'", "rerun preprocess")
    store.delete("memb")
