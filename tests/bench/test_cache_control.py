"""The page cache each variant's steps start from (shmpipe_bench.bench.CacheControl)."""

from shmpipe_bench import bench, cold_cache
from shmpipe_core.dataset import raw_path


def test_drop_caches_drops_before_train_and_evaluate_for_every_variant(
    raw_data_dir, tmp_path, monkeypatch
):
    # Dropping every cache needs root and would slow everyone on the machine: counted instead.
    dropped = []
    monkeypatch.setattr(cold_cache, "drop_all_caches", lambda: dropped.append(1))
    raw = raw_path(raw_data_dir, 1)
    split = tmp_path / "split"
    split.mkdir()
    (split / "X_train.arrow").write_bytes(b"x" * 8192)
    for split_dirs in ([], [split]):  # a vineyard run (no split files), then a NAS run
        dropped.clear()
        control = bench.CacheControl(split_dirs, raw, "warm", drop_all=True)
        for step in ("preprocess", "train", "evaluate"):
            control(step)
        assert len(dropped) == 2, split_dirs
        assert control.dropped_all == ["train", "evaluate"]
