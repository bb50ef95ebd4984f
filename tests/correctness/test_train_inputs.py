"""Train hands scikit-learn arrays it may change: a read-only input would be copied inside the fit
(LinearRegression validates with force_writeable), a store's cost booked as compute."""

import pytest

from tests.support.processes import run_cli


@pytest.mark.parametrize("store", ["nas", "vineyard"])
def test_the_fit_gets_arrays_it_may_change(store, data_dir, vineyard_socket, monkeypatch):
    where = ["--data-dir", data_dir, "--run-id", f"w-{store}", "--vineyard-socket", vineyard_socket]
    run_cli("preprocess", "--sink", store, "--multiplier", 1, *where)
    from shmpipe_train.cli import build_parser, train
    from sklearn.linear_model import LinearRegression

    writable = {}
    fit = LinearRegression.fit

    def fit_and_look(self, X, y, *args, **kwargs):
        writable.update(X=X.flags.writeable, y=y.flags.writeable)
        return fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(LinearRegression, "fit", fit_and_look)
    train(build_parser().parse_args(["--source", store, *map(str, where)]))
    assert writable == {"X": True, "y": True}
