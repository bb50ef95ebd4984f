"""The workspace's import graph: no loops, the core library apart from its commands, each step
apart from the others, the runner apart from the benchmark. Imports inside functions count too:
a lazy import does not remove a dependency, it only hides it."""

import ast
import tomllib
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[2] / "packages"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGES.glob("*/src/**/*.py"):
        parts = path.relative_to(path.parents[len(path.relative_to(PACKAGES).parts) - 3]).parts
        name = ".".join(parts)[: -len(".py")]
        found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in known and t != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            # A package importing its own submodule and back is a loop too, but an __init__ that
            # imports nothing of its submodules is not: only real edges count.
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read():
    edges = graph()
    # The check would pass vacuously on an empty or unparsed graph.
    assert "shmpipe_core.vineyard_store" in edges
    assert "shmpipe_core.vineyard_connect" in edges["shmpipe_core.vineyard_store"]
    assert "shmpipe_core.synthetic" in edges["shmpipe_core.commands.prepare_data"]


def test_no_import_loop():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_library_never_imports_a_command():
    commands = ("shmpipe_core.commands", "shmpipe_core.cli")
    offenders = {
        name: sorted(t for t in targets if t.startswith(commands))
        for name, targets in graph().items()
        if name.startswith("shmpipe_core") and not name.startswith(commands)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_steps_runner_and_benchmark_keep_apart():
    """A step image carries core and its own package only; the runner does not need the
    benchmark (nor its plotting libraries)."""
    steps = ("shmpipe_preprocess", "shmpipe_train", "shmpipe_evaluate")
    for name, targets in graph().items():
        top = name.split(".")[0]
        allowed = {"shmpipe_core", top}
        if top == "shmpipe_pipeline":
            allowed |= set(steps)
        if top == "shmpipe_bench":
            allowed |= {*steps, "shmpipe_pipeline"}
        assert {t.split(".")[0] for t in targets} <= allowed, name


def test_the_commands_package_names_every_core_script():
    """commands/__init__.py says which console scripts core has: all of them, from pyproject."""
    pyproject = tomllib.loads((PACKAGES / "core" / "pyproject.toml").read_text())
    scripts = set(pyproject["project"]["scripts"])
    init = PACKAGES / "core" / "src" / "shmpipe_core" / "commands" / "__init__.py"
    docstring = " ".join(ast.get_docstring(ast.parse(init.read_text())).split())
    listed = docstring.split("(", 1)[1].split(")", 1)[0]
    assert {s.strip() for s in listed.split(",")} == scripts
