"""The hand-written Argo workflows and the compiled Kubeflow pipelines call each step as the step
contract (shmpipe_core.step_contract) says, the one the step parsers and the local runner use,
partition and merge flags included, and read the MSE and the placement where the run layout puts
them."""

import pytest
from argo_model import WORKFLOWS, load, templates
from kfp_model import COMPILED, tasks
from kfp_model import load as load_kfp
from shmpipe_core.layout import RunLayout
from shmpipe_core.step_contract import MERGED, STEPS, merge_args, step_args

from tests.support.steps_table import STEPS as IMAGES

TEMPLATE = {row["command"]: row["image"] for row in IMAGES}  # step -> its Argo template / task
# The templates of one partition's evaluate beside test-data (the whole run's, at P=1).
PARTITION_TEMPLATES = {"evaluate": ["test-data", "test-data-part"]}
MERGE_TEMPLATE = {"train": "train-merge", "evaluate": "test-merge"}
RUN_ID = "3f2b8c1e-0d4a-4c1b-9e57-2a6f0b7d9c11"
ARGO_PARTITIONS = "{{workflow.parameters.partitions}}"


@pytest.mark.parametrize("store", sorted(WORKFLOWS))
def test_argo_calls_each_step_as_the_contract_says(store):
    by_name = templates(load(WORKFLOWS[store]))
    run_id, partition = "{{workflow.name}}", "{{inputs.parameters.partition}}"
    for step in STEPS:
        for name in PARTITION_TEMPLATES.get(step, [TEMPLATE[step]]):
            container = by_name[name]["container"]
            assert container["command"] == [step]
            multiplier = "{{inputs.parameters.data_multiplier}}"
            assert container["args"] == step_args(
                step, store, "/data", run_id, multiplier, partition, ARGO_PARTITIONS
            ), name
    for step in MERGED:
        container = by_name[MERGE_TEMPLATE[step]]["container"]
        assert container["command"] == [step]
        assert container["args"] == merge_args(step, store, "/data", run_id, ARGO_PARTITIONS)


@pytest.mark.parametrize("partitions", [1, 3])
@pytest.mark.parametrize("store", sorted(COMPILED))
def test_kubeflow_calls_each_step_as_the_contract_says(store, partitions):
    rendered = tasks(load_kfp(COMPILED[store]), RUN_ID, {"data_multiplier": 7,
                                                          "partitions": partitions})  # fmt: skip
    p = str(partitions)
    for step in STEPS:
        names = PARTITION_TEMPLATES.get(step, [TEMPLATE[step]])
        ran = [t for t in rendered if t.name in names]
        assert [t.command for t in ran] == [[step]] * partitions
        assert [t.args for t in ran] == [
            step_args(step, store, "/data", RUN_ID, "7", str(k), p) for k in range(partitions)
        ]
    for step in MERGED:
        ran = [t for t in rendered if t.name == MERGE_TEMPLATE[step]]
        expected = [merge_args(step, store, "/data", RUN_ID, p)] if partitions > 1 else []
        assert [t.args for t in ran] == expected


@pytest.mark.parametrize("store", sorted(COMPILED))
def test_kubeflow_reads_the_mse_and_placements_where_the_run_layout_puts_them(store):
    rendered = tasks(load_kfp(COMPILED[store]), RUN_ID, {"partitions": 2})
    layout = RunLayout("/data", RUN_ID)
    by_name = {t.name: t for t in rendered}
    assert by_name["read-mse"].args[0] == str(layout.mse)
    records = [t.args[0] for t in rendered if t.name.startswith("partition-node")]
    assert records == [str(layout.part("preprocess", k)) for k in (0, 1)] * 2
