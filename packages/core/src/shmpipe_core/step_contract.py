"""The pipeline's three steps and the arguments each takes, defined once: the step parsers, the
local runner and the Kubeflow components build from it; tests hold the Argo YAML to it.

A run may be split into partitions (the raw table's rows in P contiguous ranges): then each step
runs once per partition (`--partitions P --partition K`), and train and evaluate once more with
`--merge` to combine the partitions' small results. At P=1 (the default) a step does the whole
run as one process, and no merge runs."""

STEPS = ("preprocess", "train", "evaluate")
# The seed's names for the store flag (a writer's sink, a reader's source); `--store` is the same
# flag under every step.
STORE_FLAG = {"preprocess": "--sink", "train": "--source", "evaluate": "--source"}
# Only preprocess reads the raw table, whose size the multiplier picks.
TAKES_MULTIPLIER = ("preprocess",)
# The steps whose partitions' results are merged by one more process of the same command.
MERGED = ("train", "evaluate")
# The environment variable in which a pod gets the name of its node (Kubernetes' downward API,
# `spec.nodeName`): preprocess records it, so a partition's later steps are sent there.
NODE_ENV = "NODE_NAME"


def step_args(
    step: str, store: str, data_dir, run_id: str, multiplier=None, partition=None, partitions=None
) -> list:
    """A step's command line after its command; values may be placeholders (Argo, KFP).
    `partition` and `partitions` are added only when given (both defaults are the one-partition
    run's)."""
    args = [STORE_FLAG[step], store, "--data-dir", data_dir, "--run-id", run_id]
    if step in TAKES_MULTIPLIER:
        args[2:2] = ["--multiplier", multiplier]
    if partitions is not None:
        args += ["--partitions", partitions]
    if partition is not None:
        args += ["--partition", partition]
    return args


def merge_args(step: str, store: str, data_dir, run_id: str, partitions) -> list:
    """The command line of the process that merges a step's partitions (train, evaluate)."""
    assert step in MERGED, step
    return [*step_args(step, store, data_dir, run_id, partitions=partitions), "--merge"]
