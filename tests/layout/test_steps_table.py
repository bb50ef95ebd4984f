"""packages/steps.tsv has one Python reader, shmpipe_core.steps_table, and it refuses a row that
is not the table's five tab-separated fields instead of misreading it."""

import pytest
from shmpipe_core import steps_table

from tests.support.steps_table import ROOT


def _python_files():
    for top in ("packages", "tests", "workflows"):
        yield from (p for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts)


def test_every_python_reader_of_the_table_goes_through_steps_table():
    reader = ROOT / "packages/core/src/shmpipe_core/steps_table.py"
    readers = [p for p in _python_files() if "steps.tsv" in p.read_text() and p != reader]
    assert readers, "nothing names packages/steps.tsv: the search is broken"
    parsing_alone = [
        str(p.relative_to(ROOT)) for p in readers if "steps_table.read(" not in p.read_text()
    ]
    assert not parsing_alone, f"read steps.tsv without shmpipe_core.steps_table: {parsing_alone}"


def test_the_table_reads_as_rows_of_five_fields():
    rows = steps_table.read(ROOT / "packages" / "steps.tsv")
    assert [r.command for r in rows] == ["prepare-data", "preprocess", "train", "evaluate"]


def test_a_row_that_is_not_five_tab_separated_fields_is_refused(tmp_path):
    table = tmp_path / "steps.tsv"
    table.write_text("# header\ntrain-data shmpipe-train train shmpipe_train train\n")
    with pytest.raises(ValueError, match="steps.tsv:2: 1 tab-separated fields"):
        steps_table.read(table)
