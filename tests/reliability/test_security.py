"""No pickle, and a model that cannot run code (the parts not held elsewhere): nothing exchanged
between steps is pickle, and the model file cannot run code when it is loaded. The embedded
vineyardd's privacy (no TCP port, 0700 socket directory) is held by
tests/reliability/test_embedded.py::test_start_reuse_stop; images, Pod Security "restricted" and
RBAC by tests/containers and tests/workflows (tests/README.md, Guarantees)."""

import json
import pickle
import re
from pathlib import Path

import pyarrow as pa
import pytest
from shmpipe_core.stores.vineyard import VineyardStore

from tests.support.files import data_dir_with_raw
from tests.support.processes import run_cli

PACKAGES = Path(__file__).parents[2] / "packages"
PICKLE_PROTO = b"\x80"  # every pickle since protocol 2 starts with the PROTO opcode


def test_no_step_code_can_unpickle():
    """A guard against a future `np.load(allow_pickle=True)`, joblib model or unsafe YAML."""
    banned = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|joblib|dill|cloudpickle|shelve|marshal)\b"
        r"|allow_pickle\s*=\s*True|yaml\.load\(|yaml\.unsafe_load|pd\.read_pickle",
        re.MULTILINE,
    )
    # The benchmark's re-implementation of the seed's method pickles on purpose (that is the
    # seed's handoff, measured); it runs in no pipeline and no image.
    step_code = [p for p in PACKAGES.glob("*/src/**/*.py") if "shmpipe_bench" not in p.parts]
    assert any("shmpipe_train" in p.parts for p in step_code)
    offenders = [
        f"{path}: {match.group(0).strip()}"
        for path in step_code
        for match in banned.finditer(path.read_text())
    ]
    assert offenders == []


@pytest.fixture(scope="module")
def trained(raw_data_dir, tmp_path_factory, vineyard_socket):
    data_dir = data_dir_with_raw(raw_data_dir, tmp_path_factory.mktemp("sec"))
    common = ["--data-dir", data_dir, "--run-id", "sec", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", "nas", *common)
    run_cli("preprocess", "--sink", "vineyard", *common)
    run_cli("train", "--source", "nas", *common)
    yield data_dir, common
    run_cli("cleanup", "--run-id", "sec", *common[:2], *common[-2:])


def test_nas_split_is_json_and_arrow_tensors(trained):
    data_dir, _ = trained
    split = data_dir / "runs" / "sec" / "splits"
    manifest = json.loads((split / "manifest.json").read_text())
    assert sorted(p.name for p in split.iterdir()) == sorted(
        ["manifest.json", *manifest["files"].values()]
    )
    for filename in manifest["files"].values():
        assert not (split / filename).read_bytes().startswith(PICKLE_PROTO)
        with pa.OSFile(str(split / filename)) as f:
            assert pa.ipc.read_tensor(f).type == pa.float64()


def test_vineyard_split_is_tensors_and_a_json_manifest(trained, vineyard_socket):
    store = VineyardStore.connect(vineyard_socket)
    client = store.client
    splits = client.get_object(client.get_name("sec/splits"))
    assert splits.meta.typename == "shmpipe::Splits"
    json.loads(splits.meta["manifest_"])  # JSON, not a pickled blob
    for name in ("X_train", "X_test", "y_train", "y_test"):
        member = splits.member(name)
        assert member.meta.typename == "vineyard::Tensor<double>"
        assert client.get_name(f"sec/{name}") == member.id
        assert member.member("buffer_").meta.typename == "vineyard::Blob"


def evaluate(trained):
    data_dir, common = trained
    return run_cli("evaluate", "--source", "nas", *common, check=False)


def test_model_file_is_plain_json_and_extra_keys_are_inert(trained, tmp_path):
    data_dir, _ = trained
    path = data_dir / "runs" / "sec" / "model.json"
    original = path.read_text()
    model = json.loads(original)  # plain JSON: the file itself is not pickle
    baseline = json.loads(evaluate(trained).stdout)["mse"]
    marker = tmp_path / "pwned"
    try:
        # Keys that jsonpickle, pickle-in-JSON or a class loader would act on: ignored.
        crafted = {
            **model,
            "py/reduce": [{"py/function": "os.system"}, {"py/tuple": [f"touch {marker}"]}],
            "__class__": "os.system",
            "py/object": "subprocess.Popen",
        }
        path.write_text(json.dumps(crafted))
        result = evaluate(trained)
        assert result.returncode == 0 and json.loads(result.stdout)["mse"] == baseline
        # Code where numbers belong: refused, never evaluated.
        path.write_text(json.dumps({**model, "coef": f"__import__('os').system('touch {marker}')"}))
        result = evaluate(trained)
        assert result.returncode == 1 and "not a shmpipe-linear-model" in result.stderr

        # A pickle under the model's name: refused as unreadable, never unpickled.
        class Exploit:
            def __reduce__(self):
                return (Path.touch, (marker,))

        path.write_bytes(pickle.dumps(Exploit()))
        result = evaluate(trained)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "cannot read the model" in result.stderr, result.stderr
        assert not marker.exists()
    finally:
        path.write_text(original)
