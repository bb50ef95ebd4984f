"""The README's lines for using a run outside the pipeline, run as written there."""

import json

import numpy as np
import pandas as pd
from shmpipe_core.dataset import FEATURES

from tests.support.processes import run_cli


def test_a_run_as_a_dataframe_and_as_a_stock_client_sees_it(data_dir, vineyard_socket):
    run_cli(
        "pipeline", "--sink", "vineyard", "--run-id", "demo", "--keep", "--quiet",
        "--data-dir", data_dir, "--vineyard-socket", vineyard_socket,
    )  # fmt: skip
    from shmpipe_core.stores import open_store

    # README, "Using a run outside the pipeline": two lines to a DataFrame.
    arrays, manifest = open_store("vineyard", data_dir, vineyard_socket).read("demo", ["X_train"])
    df = pd.DataFrame(arrays["X_train"], columns=manifest["features"])
    assert list(df.columns) == list(FEATURES) and len(df) == arrays["X_train"].shape[0]

    # README: what a stock vineyard client sees.
    import vineyard

    client = vineyard.connect(vineyard_socket)
    X = client.get(name="demo/X_train")
    assert X.shape == (len(FEATURES), len(df))  # feature-major: X.T is the matrix
    np.testing.assert_array_equal(X.T, df.to_numpy())
    features = json.loads(client.get_meta(client.get_name("demo/splits"))["manifest_"])["features"]
    assert features == list(FEATURES)
    run_cli("cleanup", "--run-id", "demo", "--data-dir", data_dir,
            "--vineyard-socket", vineyard_socket)  # fmt: skip
