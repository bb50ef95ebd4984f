"""Tests skip only through `tests.support.ci.require`: a skip anywhere else would pass CI
(SHMPIPE_CI=1) without running what CI can provide."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ALLOWED = TESTS / "support" / "ci.py"
SKIPS = {"skip", "skipif", "importorskip"}


def skips_in(path: Path) -> list[int]:
    """Lines of `path` that call or apply pytest's skips (pytest.skip, mark.skip(if),
    importorskip)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in SKIPS
    ]


def test_no_test_skips_except_through_require():
    found = {
        str(path.relative_to(TESTS)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if path != ALLOWED and (lines := skips_in(path))
    }
    assert found == {}


def test_the_check_finds_a_skip(tmp_path):
    sample = tmp_path / "test_sample.py"
    sample.write_text("import pytest\n\ndef test_x():\n    pytest.skip('no root')\n")
    assert skips_in(sample) == [4]
