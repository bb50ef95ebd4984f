"""The pipeline's three steps and the arguments each takes, defined once: the step parsers, the
local runner and the Kubeflow components build from it; tests hold the Argo YAML to it."""

STEPS = ("preprocess", "train", "evaluate")
# The seed's names for the store flag (a writer's sink, a reader's source); `--store` is the same
# flag under every step.
STORE_FLAG = {"preprocess": "--sink", "train": "--source", "evaluate": "--source"}
# Only preprocess reads the raw table, whose size the multiplier picks.
TAKES_MULTIPLIER = ("preprocess",)


def step_args(step: str, store: str, data_dir, run_id: str, multiplier=None) -> list:
    """A step's command line after its command; values may be placeholders (Argo, KFP)."""
    args = [STORE_FLAG[step], store, "--data-dir", data_dir, "--run-id", run_id]
    if step in TAKES_MULTIPLIER:
        args[2:2] = ["--multiplier", multiplier]
    return args
