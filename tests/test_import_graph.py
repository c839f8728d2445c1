"""The package's import graph, imports inside functions included: no cycles, nothing imports the CLI, leaves stay leaves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def imports(root: Path, nested: bool) -> dict[str, set[str]]:
    """``module -> what it imports``: iqa modules, plus outside packages and ``module.name`` of ``from`` imports.

    Module level only, or also inside functions (``nested``); TYPE_CHECKING blocks excluded.
    """
    found: dict[str, set[str]] = {}
    for path in sorted((root / "iqa").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for n in ast.walk(node)}
        nodes = ast.walk(tree) if nested else iter(tree.body)
        names: set[str] = set()
        for node in nodes:
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        found[module] = names
    return {m: names - {m} for m, names in found.items()}


def cycles(graph: dict[str, set[str]], within: str) -> list[list[str]]:
    nodes = {m for m in graph if m.startswith(within)}
    found, state, stack = [], {}, []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for dep in sorted(graph[module] & nodes):
            if state.get(dep) == "open":
                found.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = "done"

    for module in sorted(nodes):
        if module not in state:
            visit(module)
    return found


def test_no_import_cycles_at_any_depth(repo_root):
    graph = imports(repo_root, nested=True)  # imports inside functions count: a cycle there is a cycle
    assert len(graph) > 50  # it read the package
    assert cycles(graph, "iqa") == []


def test_the_cycle_finder_finds_cycles_through_function_level_imports(tmp_path):
    """The check above could pass by reading too little: the same reader finds a cycle hidden inside a function."""
    package = tmp_path / "iqa"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from iqa.b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from iqa.a import f\n    return f\n")
    assert cycles(imports(tmp_path, nested=False), "iqa") == []
    assert cycles(imports(tmp_path, nested=True), "iqa") == [["iqa.a", "iqa.b", "iqa.a"]]


def test_only_the_cli_imports_the_cli(repo_root):
    graph = imports(repo_root, nested=True)
    offenders = {m: sorted(d for d in deps if d == "iqa.cli" or d.startswith("iqa.cli."))
                 for m, deps in graph.items() if not (m == "iqa.cli" or m.startswith("iqa.cli."))}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_checkpoint_metadata_never_imports_the_network(repo_root):
    graph = imports(repo_root, nested=True)
    assert {d for d in graph["iqa.checkpoints"] if d in graph} == {"iqa.errors"}
    assert not {d for d in graph["iqa.checkpoints"] if d.split(".")[0] in ("torch", "timm")} - {"torch"}  # torch.load only
    assert "iqa.models" in graph["iqa.inference"] and "iqa.inference" not in graph["iqa.quality_loss"]


def test_records_is_a_leaf_and_lightning_stays_in_the_data_modules(repo_root):
    graph = imports(repo_root, nested=True)
    assert {d for d in graph["iqa.data.records"] if d in graph} <= {"iqa.data.corpus", "iqa.data.images", "iqa.errors"}
    training_stack = ("pytorch_lightning", "lightning")
    lightning = sorted(m for m, deps in graph.items() if m.startswith("iqa.data") and any(d.split(".")[0] in training_stack for d in deps))
    assert lightning == ["iqa.data.datamodules"]
    assert not (Path(repo_root) / "iqa" / "labels.py").exists() and not (Path(repo_root) / "iqa" / "data" / "labels.py").exists()
