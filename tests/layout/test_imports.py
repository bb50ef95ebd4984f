"""core/pyproject's console scripts are the ones commands/__init__.py names. The import layering
itself is import-linter's contracts (pyproject.toml, run by `make lint`)."""

import ast
import tomllib
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[2] / "packages"


def test_the_commands_package_names_every_core_script():
    """commands/__init__.py says which console scripts core has: all of them, from pyproject."""
    pyproject = tomllib.loads((PACKAGES / "core" / "pyproject.toml").read_text())
    scripts = set(pyproject["project"]["scripts"])
    init = PACKAGES / "core" / "src" / "shmpipe_core" / "commands" / "__init__.py"
    docstring = " ".join(ast.get_docstring(ast.parse(init.read_text())).split())
    listed = docstring.split("(", 1)[1].split(")", 1)[0]
    assert {s.strip() for s in listed.split(",")} == scripts
