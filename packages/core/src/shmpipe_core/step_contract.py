"""The pipeline's three steps and the arguments each takes, defined once: the step parsers, the
local runner and the Kubeflow components build from it; tests hold the Argo YAML to it. A
partitioned run runs each step once per partition, then train and evaluate once more to merge."""

STEPS = ("preprocess", "train", "evaluate")
# The seed's names for the store flag (a writer's sink, a reader's source); `--store` is the same
# flag under every step.
STORE_FLAG = {"preprocess": "--sink", "train": "--source", "evaluate": "--source"}
# Only preprocess reads the raw table, whose size the multiplier picks.
TAKES_MULTIPLIER = ("preprocess",)
# The steps whose partitions' results are merged by one more process of the same command.
MERGED = ("train", "evaluate")
# A pod's node (the downward API's spec.nodeName): a partition's later steps are sent there.
NODE_ENV = "NODE_NAME"


def step_args(
    step: str, store: str, data_dir, run_id: str, multiplier=None, partition=None, partitions=None
) -> list:
    """A step's command line after its command; values may be placeholders (Argo, KFP)."""
    args = [STORE_FLAG[step], store, "--data-dir", data_dir, "--run-id", run_id]
    if step in TAKES_MULTIPLIER:
        args[2:2] = ["--multiplier", multiplier]
    if partitions is not None:
        args += ["--partitions", partitions]
    if partition is not None:
        args += ["--partition", partition]
    return args


def merge_args(step: str, store: str, data_dir, run_id: str, partitions) -> list:
    assert step in MERGED, step
    return [*step_args(step, store, data_dir, run_id, partitions=partitions), "--merge"]
