"""The two pipelines as Kubeflow Pipelines v2 definitions, over the same step images as the Argo
workflows: pipeline.yaml (NAS hand-off) and pipeline-with-vineyard.yaml (vineyard hand-off).

    uv run python workflows/kfp/pipelines.py          # = make kfp

compiles both into the IR YAML beside this file, with the same names as the Argo files one folder
up. Each step runs the same command with the same flags as there; tests/kfp/ checks that the two
stay in step. Where KFP cannot say what the Argo workflow says, the comment at that place and
workflows/README.md say so. This file belongs to no step package; it needs the kfp SDK and
kfp-kubernetes, which are dev dependencies of the workspace only.
"""

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

from kfp import compiler, dsl, kubernetes
from shmpipe_core import steps_table
from shmpipe_core.step_contract import NODE_ENV, merge_args, step_args

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STEPS_TABLE = ROOT / "packages" / "steps.tsv"

# The Argo workflows' defaults for these parameters.
DEFAULT_REGISTRY = "test-registry"
DEFAULT_TAG = "latest"
DEFAULT_MULTIPLIER = 100
DEFAULT_PARTITIONS = 1

DATA_DIR = "/data"
NAS_CLAIM = "benchmark-data"
# The claim Fluid creates for the Dataset `vineyard` (deploy/vineyard.yaml); the steps find
# vineyard-config.yaml and the socket at this path without any configuration. Mounted writable:
# kfp-kubernetes has no read-only PVC mount (workflows/NOTES.md, KFP).
VINEYARD_CLAIM = "vineyard"
VINEYARD_DIR = "/var/run/vineyard"
# The vineyard workflow's pod labels: the first sends the pod to Fluid's webhook, the second has
# its default profile require a node with a vineyard worker (workflows/NOTES.md, Fluid).
VINEYARD_POD_LABELS = {
    "fuse.serverful.fluid.io/inject": "true",
    "fluid.io/dataset.vineyard.sched": "required",
}
# The uid:gid every step image runs as (deploy/images/step.Dockerfile).
STEP_UID = 1000

# Per task: (request, limit) for cpu, then for memory, as in the Argo template of the same name
# (whose comments give the sizing). read-mse has no Argo counterpart; it gets cleanup's.
SMALL = (("100m", "500m"), ("256Mi", "512Mi"))
RESOURCES = {
    "preprocess-data": (("500m", "2"), ("1Gi", "12Gi")),
    "train-data": (("500m", "2"), ("1Gi", "16Gi")),
    "test-data": (("500m", "2"), ("1Gi", "4Gi")),
    "test-data-part": (("500m", "2"), ("1Gi", "4Gi")),
    "train-merge": SMALL,
    "test-merge": SMALL,
    "cleanup": SMALL,
    "read-mse": SMALL,
    "partition-list": SMALL,
    "partition-node": SMALL,
}

# KFP's counterpart of the workflow's name: the run's id, different for every run, so concurrent
# runs never share intermediates. The KFP driver substitutes it only when it is a task's whole
# argument, so it is passed as the `run_id` input, never spliced into a longer string. Upstream
# sources for the comments in this file: workflows/NOTES.md.
RUN_ID = dsl.PIPELINE_JOB_ID_PLACEHOLDER

# Argo reads the MSE from the file evaluate writes beside metrics.json (`runs/<id>/mse`, the
# float's repr) with an output parameter's `valueFrom.path`. A KFP output parameter is a file at a
# path the launcher chooses, which `evaluate` knows nothing of, so this one line, run in the
# test-data image after evaluate, copies that file there.
READ_MSE = "import shutil,sys; shutil.copyfile(sys.argv[1], sys.argv[2])"
# KFP loops over a list, not a count: the partitions' numbers, 0 .. P-1, as one task's output.
PARTITION_LIST = "import json,sys; json.dump(list(range(int(sys.argv[1]))), open(sys.argv[2], 'w'))"
# A partition's node, from the placement record preprocess wrote, as the node affinity KFP's
# driver gives a pod (a runtime value: kfp-kubernetes' add_node_affinity_json): the node's name
# exactly, as the Argo workflows require it. KFP has no output read from a file of the step's
# choosing, so this reads the record in a task of its own.
PARTITION_NODE = (
    "import json,sys; node = json.load(open(sys.argv[1]))['node']; json.dump("
    "{'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [{'matchFields': "
    "[{'key': 'metadata.name', 'operator': 'In', 'values': [node]}]}]}}, open(sys.argv[2], 'w'))"
)


def step_images() -> dict[str, str]:
    """command -> image name, from the table of step images (image, distribution, ..., command).

    `cleanup` comes with shmpipe-core, so it runs in the image that carries that distribution.
    """
    images = {}
    for row in steps_table.read(STEPS_TABLE):
        images[row.command] = row.image
        if row.distribution == "shmpipe-core":
            images["cleanup"] = row.image
    return images


IMAGES = step_images()


def image_parameter(image: str) -> str:
    """The pipeline parameter that holds the full reference of one image, e.g. train_data_image."""
    return image.replace("-", "_") + "_image"


def image_defaults(registry: str = DEFAULT_REGISTRY, tag: str = DEFAULT_TAG) -> dict[str, str]:
    return {image_parameter(i): f"{registry}/{i}:{tag}" for i in sorted(set(IMAGES.values()))}


# --- components: one container per step, same command and flags as the Argo templates ---------
# The image given here is a stand-in (the bare image name): every task gets its image from a
# pipeline parameter (set_container_image in configure), as Argo's get theirs from registry and tag.


# The store is each step's input, as it is each Argo template's flag: one component per step.


@dsl.container_component
def preprocess_data(store: str, data_multiplier: int, run_id: str, partitions: int, partition: int):
    return dsl.ContainerSpec(
        image=IMAGES["preprocess"],
        command=["preprocess"],
        args=step_args(
            "preprocess", store, DATA_DIR, run_id, data_multiplier, partition, partitions
        ),
    )


def _partition_step(step: str, store: str, run_id: str, partitions: int, partition: int):
    return dsl.ContainerSpec(
        image=IMAGES[step],
        command=[step],
        args=step_args(step, store, DATA_DIR, run_id, partition=partition, partitions=partitions),
    )


@dsl.container_component
def train_data(store: str, run_id: str, partitions: int, partition: int):
    return _partition_step("train", store, run_id, partitions, partition)


def _merge_step(step: str, store: str, run_id: str, partitions: int):
    return dsl.ContainerSpec(
        image=IMAGES[step],
        command=[step],
        args=merge_args(step, store, DATA_DIR, run_id, partitions),
    )


@dsl.container_component
def train_merge(store: str, run_id: str, partitions: int):
    return _merge_step("train", store, run_id, partitions)


# The same command as two components, as in the Argo workflows: the whole run's evaluate at P=1,
# a partition's at P>1 (KFP reads the MSE from the file either way, see read-mse).
@dsl.container_component
def test_data(store: str, run_id: str, partitions: int, partition: int):
    return _partition_step("evaluate", store, run_id, partitions, partition)


@dsl.container_component
def test_data_part(store: str, run_id: str, partitions: int, partition: int):
    return _partition_step("evaluate", store, run_id, partitions, partition)


@dsl.container_component
def test_merge(store: str, run_id: str, partitions: int):
    return _merge_step("evaluate", store, run_id, partitions)


@dsl.container_component
def partition_list(partitions: int, numbers: dsl.OutputPath(list)):
    return dsl.ContainerSpec(
        image=IMAGES["preprocess"], command=["python3", "-c", PARTITION_LIST],
        args=[partitions, numbers],
    )  # fmt: skip


@dsl.container_component
def partition_node(run_id: str, partition: int, affinity: dsl.OutputPath(dict)):
    return dsl.ContainerSpec(
        image=IMAGES["preprocess"],
        command=["python3", "-c", PARTITION_NODE],
        args=[f"{DATA_DIR}/runs/{run_id}/parts/preprocess-{partition}.json", affinity],
    )


@dsl.container_component
def read_mse(run_id: str, mse: dsl.OutputPath(float)):
    return dsl.ContainerSpec(
        image=IMAGES["evaluate"],
        command=["python3", "-c", READ_MSE],
        args=[f"{DATA_DIR}/runs/{run_id}/mse", mse],
    )


@dsl.container_component
def cleanup(run_id: str):
    return dsl.ContainerSpec(
        image=IMAGES["cleanup"],
        command=["cleanup"],
        args=["--run-id", run_id, "--data-dir", DATA_DIR],
    )


# --- Kubernetes settings (kfp-kubernetes) ------------------------------------------------------


def configure(task, image, vineyard: bool):
    """What the Argo template of the same name says about the task's pod, as far as KFP can."""
    task.set_container_image(image)
    # Steps write to vineyard and the NAS: a cached result would skip them and leave the run
    # without its intermediates.
    task.set_caching_options(False)
    # IfNotPresent: images loaded into kind exist only on the nodes.
    kubernetes.set_image_pull_policy(task, "IfNotPresent")
    (cpu_request, cpu_limit), (memory_request, memory_limit) = RESOURCES[task.component_spec.name]
    task.set_cpu_request(cpu_request).set_cpu_limit(cpu_limit)
    task.set_memory_request(memory_request).set_memory_limit(memory_limit)
    # The Argo workflows' securityContext, as far as KFP reaches: kfp-kubernetes sets only the
    # container's identity. KFP 2.16 and later add no-privilege-escalation, all capabilities
    # dropped and the RuntimeDefault seccomp profile to every user container itself. Nothing asks
    # for readOnlyRootFilesystem, and KFP's launcher writes the
    # output parameters under /tmp in the step's own container, so the root filesystem stays
    # writable here.
    kubernetes.set_security_context(
        task, run_as_user=STEP_UID, run_as_group=STEP_UID, run_as_non_root=True
    )
    kubernetes.mount_pvc(task, pvc_name=NAS_CLAIM, mount_path=DATA_DIR)
    if vineyard:
        kubernetes.mount_pvc(task, pvc_name=VINEYARD_CLAIM, mount_path=VINEYARD_DIR)
        # Argo puts these on every pod of the workflow (spec.podMetadata); KFP has labels per task.
        for key, value in VINEYARD_POD_LABELS.items():
            kubernetes.add_pod_label(task, key, value)
    return task


def on_partition_node(task, partition, image, after=None):
    """The task's pod on the node of its partition's split: a partition-node task reads the node
    from preprocess's placement record (after `after`), and its output is the pod's required
    node affinity, to which Fluid's webhook adds its own."""
    node = partition_node(run_id=RUN_ID, partition=partition)
    configure(node, image("preprocess"), vineyard=False)
    if after is not None:
        node.after(after)
    kubernetes.add_node_affinity_json(task, node.output)
    return task


# --- the pipelines -----------------------------------------------------------------------------

PIPELINE_NAMES = {
    "nas": "machine-learning-pipeline",
    "vineyard": "machine-learning-pipeline-with-vineyard",
}
OUTPUT_FILES = {"nas": "pipeline.yaml", "vineyard": "pipeline-with-vineyard.yaml"}
_IMAGES = image_defaults()


class Outputs(NamedTuple):
    """The pipeline's declared output, the MSE, for a pipeline that uses this one as a component.
    A run shows the value only as read-mse's output parameter: KFP's backend records no value for
    the root DAG's outputs."""

    mse: float


def define(store: str):
    """The pipeline whose steps hand data over through `store` (nas or vineyard).

    Parameters: data_multiplier and partitions as in the Argo workflows, and one full image
    reference per step
    image instead of Argo's `registry` and `tag`: KFP takes a container image only from one whole
    parameter, so `<registry>/preprocess-data:<tag>` cannot be put together at run time. Their
    defaults are made from a registry and a tag when compiling (main).
    """
    vineyard = store == "vineyard"

    @dsl.pipeline(
        name=PIPELINE_NAMES[store],
        description=f"preprocess -> train -> evaluate, the split handed over through {store}; "
        "output: the MSE.",
    )
    def pipeline(
        data_multiplier: int = DEFAULT_MULTIPLIER,
        partitions: int = DEFAULT_PARTITIONS,
        prepare_data_image: str = _IMAGES["prepare_data_image"],
        preprocess_data_image: str = _IMAGES["preprocess_data_image"],
        train_data_image: str = _IMAGES["train_data_image"],
        test_data_image: str = _IMAGES["test_data_image"],
    ) -> Outputs:
        # The parameters by name, so that a step's image parameter is found through the table.
        parameters = dict(locals())

        def image(command: str):
            return parameters[image_parameter(IMAGES[command])]

        # The exit handler runs whether the steps succeeded or failed, as Argo's onExit does: it
        # deletes the run's intermediates and keeps the model and metrics.
        done = configure(cleanup(run_id=RUN_ID), image("cleanup"), vineyard)
        with dsl.ExitHandler(done, name="steps") as steps:
            numbers = partition_list(partitions=partitions)
            configure(numbers, image("preprocess"), vineyard=False)
            common = {"store": store, "run_id": RUN_ID, "partitions": partitions}
            with dsl.ParallelFor(numbers.output) as k:
                pre = preprocess_data(data_multiplier=data_multiplier, partition=k, **common)
                configure(pre, image("preprocess"), vineyard)
                # preprocess records its node: the pod's, from the downward API.
                kubernetes.use_field_path_as_env(pre, NODE_ENV, "spec.nodeName")
                fit = train_data(partition=k, **common)
                on_partition_node(configure(fit, image("train"), vineyard), k, image, pre)
            # P>1: the merges, and each partition's evaluate on its node in between.
            with dsl.If(partitions > 1):
                merged = configure(train_merge(**common), image("train"), vineyard).after(fit)
                with dsl.ParallelFor(numbers.output) as k:
                    part = test_data_part(partition=k, **common)
                    on_partition_node(configure(part, image("evaluate"), vineyard), k, image)
                    part.after(merged)
                configure(test_merge(**common), image("evaluate"), vineyard).after(part)
            # P=1: the one evaluate, on the node of partition 0.
            with dsl.If(partitions == 1):
                test = test_data(partition=0, **common)
                on_partition_node(configure(test, image("evaluate"), vineyard), 0, image, fit)
        # KFP takes a pipeline's outputs only from its top level, not from inside an exit handler,
        # so the MSE is read after the steps (its file is one of those cleanup keeps). It
        # reads a NAS file only: no vineyard mount, no placement next to a fuse.
        mse = configure(read_mse(run_id=RUN_ID), image("evaluate"), vineyard=False).after(steps)
        return Outputs(mse=mse.output)

    return pipeline


def check_image_parameters(pipeline) -> None:
    """The image parameters are spelled out (KFP reads a pipeline's parameters from its Python
    signature); this stops them and the table of step images from drifting apart."""
    declared = {name for name in pipeline.component_spec.inputs if name.endswith("_image")}
    expected = set(image_defaults())
    if declared != expected:
        raise SystemExit(
            f"the pipeline's image parameters {sorted(declared)} do not match the images in "
            f"{STEPS_TABLE.relative_to(ROOT)} ({sorted(expected)}): update define()"
        )


def compile_all(out_dir: Path, registry: str, tag: str) -> list[Path]:
    written = []
    for store in ("nas", "vineyard"):
        pipeline = define(store)
        check_image_parameters(pipeline)
        path = out_dir / OUTPUT_FILES[store]
        compiler.Compiler().compile(
            pipeline, str(path), pipeline_parameters=image_defaults(registry, tag)
        )
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pipelines.py", description="Compile both pipelines to Kubeflow Pipelines IR YAML."
    )
    parser.add_argument("--out-dir", type=Path, default=HERE, help=f"default: {HERE}")
    parser.add_argument(
        "--registry", default=DEFAULT_REGISTRY, help="registry in the image parameters' defaults"
    )
    parser.add_argument("--tag", default=DEFAULT_TAG, help="tag in the image parameters' defaults")
    args = parser.parse_args(argv)
    if not args.out_dir.is_dir():
        parser.error(f"--out-dir {args.out_dir} is not a directory: create it first")
    for path in compile_all(args.out_dir, args.registry, args.tag):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
