"""Integrity: train and evaluate check what they load against the split's manifest and
refuse a valid-looking array that is not the one preprocess wrote."""

import json

import numpy as np
import pyarrow as pa
import pytest
from shmpipe_core.manifest import checksum
from shmpipe_core.stores.vineyard import VineyardStore, _SealAs, tensor_meta
from shmpipe_core.vineyard.client import vineyard_c

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


def test_nas_manifest_or_tensor_header_crafted_to_break_the_reader_is_one_line(data_dir):
    """A manifest json cannot parse (nested too deep) and a tensor file whose header asks for
    more memory than exists: each refused in one line, not an unexpected exception."""
    common = ["--data-dir", data_dir, "--run-id", "craft"]
    run_cli("preprocess", "--sink", "nas", *common)
    split = data_dir / "runs" / "craft" / "splits"
    manifest_text = (split / "manifest.json").read_text()
    (split / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run_cli("train", "--source", "nas", *common, check=False)
    assert_one_line_error(result, 1, "manifest.json is corrupt", "rerun preprocess")
    (split / "manifest.json").write_text(manifest_text)
    path = split / json.loads(manifest_text)["files"]["y_train"]
    content = bytearray(path.read_bytes())
    # The message header's bodyLength (an int64 equal to the body's size): pyarrow allocates
    # it before reading, and 2**62 bytes is more than any malloc gives.
    at = content.find(_body_length(path))
    assert at > 0
    content[at : at + 8] = np.int64(2**62).tobytes()
    path.write_bytes(bytes(content))
    result = run_cli("train", "--source", "nas", *common, check=False)
    assert_one_line_error(result, 1, f"cannot read {path}", "rerun preprocess")


def _body_length(path) -> bytes:
    """The int64 bytes of the tensor message's body length in the file at `path`."""
    with pa.OSFile(str(path)) as f:
        message = pa.ipc.read_message(f)
    return np.int64(message.body.size).tobytes()


def _forge_member(store, run_id: str, name: str, **fields) -> None:
    """Rename `<run>/splits` to a copy whose member `name` is a tensor of the same blob with
    its metadata `fields` replaced (as any client of the vineyardd could create one)."""
    client = store.client
    splits = client.get_object(client.get_name(f"{run_id}/splits"))
    member = splits.member(name).meta
    manifest = fields.pop("manifest_", splits.meta["manifest_"])
    forged = tensor_meta(member.get_member("buffer_"), (1,), np.dtype(np.float64))
    for key, value in fields.items():
        forged[key] = value
    forged = client.create_metadata(forged)
    meta = vineyard_c().ObjectMeta()
    meta["typename"] = "shmpipe::Splits"
    meta["manifest_"] = manifest
    for each in ("X_train", "X_test", "y_train", "y_test"):
        meta.add_member(each, forged if each == name else splits.member(each).meta)
    meta = client.create_metadata(meta)
    client.persist(meta.id)
    client.put_name(meta.id, f"{run_id}/splits")


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"shape_": "[-2, 3]"}, ["shape [-2, 3]"]),
        ({"shape_": "[0, -5]"}, ["shape [0, -5]"]),
        ({"shape_": "[1.5]"}, ["shape [1.5]"]),
        ({"shape_": "not json"}, ["no readable shape"]),
        ({"value_type_meta_": "|O"}, ["of object"]),
        ({"value_type_meta_": "no such type"}, ["no readable shape"]),
    ],
    ids=["negative", "zero-and-negative", "fraction", "not-json", "object", "bad-dtype"],
)
def test_vineyard_tensor_metadata_crafted_to_break_the_reader_is_one_line(
    fields, words, data_dir, vineyard_socket
):
    common = ["--data-dir", data_dir, "--run-id", "crafted", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", "vineyard", *common)
    store = VineyardStore.connect(vineyard_socket)
    try:
        _forge_member(store, "crafted", "y_train", **fields)
        result = run_cli("train", "--source", "vineyard", *common, check=False)
        assert_one_line_error(result, 1, "crafted/y_train", *words, "rerun preprocess")
    finally:
        store.delete("crafted")


def test_vineyard_manifest_nested_too_deep_is_one_line(data_dir, vineyard_socket):
    common = ["--data-dir", data_dir, "--run-id", "deep", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", "vineyard", *common)
    store = VineyardStore.connect(vineyard_socket)
    try:
        _forge_member(store, "deep", "y_train", manifest_="[" * 100_000 + "]" * 100_000)
        result = run_cli("train", "--source", "vineyard", *common, check=False)
        assert_one_line_error(result, 1, "deep/splits's manifest is corrupt", "rerun preprocess")
    finally:
        store.delete("deep")
