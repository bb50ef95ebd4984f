"""The hand-written Argo workflows and the compiled Kubeflow pipelines call each step as the step
contract (shmpipe_core.step_contract) says, the one the step parsers and the local runner use,
and read the MSE where the run layout puts it."""

import pytest
from argo_model import WORKFLOWS, load, templates
from kfp_model import COMPILED, tasks
from kfp_model import load as load_kfp
from shmpipe_core.layout import RunLayout
from shmpipe_core.step_contract import STEPS, step_args

from tests.support.steps_table import STEPS as IMAGES

TEMPLATE = {row["command"]: row["image"] for row in IMAGES}  # step -> its Argo template / task
RUN_ID = "3f2b8c1e-0d4a-4c1b-9e57-2a6f0b7d9c11"


@pytest.mark.parametrize("store", sorted(WORKFLOWS))
def test_argo_calls_each_step_as_the_contract_says(store):
    by_name = templates(load(WORKFLOWS[store]))
    for step in STEPS:
        container = by_name[TEMPLATE[step]]["container"]
        assert container["command"] == [step]
        multiplier = "{{inputs.parameters.data_multiplier}}"
        assert container["args"] == step_args(step, store, "/data", "{{workflow.name}}", multiplier)


@pytest.mark.parametrize("store", sorted(COMPILED))
def test_kubeflow_calls_each_step_as_the_contract_says(store):
    by_name = {t.name: t for t in tasks(load_kfp(COMPILED[store]), RUN_ID, {"data_multiplier": 7})}
    for step in STEPS:
        task = by_name[TEMPLATE[step]]
        assert task.command == [step]
        assert task.args == step_args(step, store, "/data", RUN_ID, "7")


@pytest.mark.parametrize("store", sorted(COMPILED))
def test_kubeflow_reads_the_mse_where_the_run_layout_puts_it(store):
    by_name = {t.name: t for t in tasks(load_kfp(COMPILED[store]), RUN_ID)}
    assert by_name["read-mse"].args[0] == str(RunLayout("/data", RUN_ID).mse)
