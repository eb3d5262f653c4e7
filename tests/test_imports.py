"""The package's shape: no import cycle, no layer importing from a layer above it, no private imports.

Layers, bottom to top: `text` (and the package's `__init__`) < `pir` < `eval` and `train` (side by side,
neither imports the other) < the command modules (`prune`, `analyze`, `convert`, `report`, `cli`, the
lm-eval start-up hook). Every import counts, also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "limopro_plugins"
ROOT = "limopro_plugins"
RANKS = {"text": 0, "pir": 1, "eval": 2, "train": 2}
"""Layer of each top-level name; every other module (the command modules) is on top, rank 3."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[int, str]:
    """(rank, layer name) of a package module."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0, "text"  # the package itself: only __version__ and the paper's prompt
    return RANKS.get(parts[1], 3), parts[1] if parts[1] in RANKS else "commands"


def imports(path: Path, module: str) -> list[tuple[str, list[str], int]]:
    """(imported package module, names taken from it, line) for every import of the package."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            if base.split(".")[0] == ROOT:
                found.append((base, [a.name for a in node.names], node.lineno))
    return found


def graph() -> dict[str, list[tuple[str, list[str], int]]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for module, path in modules.items():
        resolved = []
        for target, names, line in imports(path, module):
            # `from limopro_plugins.pir import segment` imports the module limopro_plugins.pir.segment
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            if submodules:
                resolved += [(m, [], line) for m in submodules]
                names = [n for n in names if f"{target}.{n}" not in modules]
            if target in modules and (names or not submodules):
                resolved.append((target, names, line))
        edges[module] = resolved
    return edges


EDGES = graph()


def test_the_walk_sees_the_package() -> None:
    assert {"limopro_plugins.text", "limopro_plugins.pir.run", "limopro_plugins.eval.task"} <= set(EDGES)
    assert any(target == "limopro_plugins.pir.select" for target, _, _ in EDGES["limopro_plugins.pir.run"])


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            pytest.fail(f"import cycle: {' -> '.join(cycle)}")
        if module in done:
            return
        for target, _, _ in EDGES[module]:
            if target != module:
                visit(target, [*path, module])
        done.add(module)

    for module in sorted(EDGES):
        visit(module, [])


def test_no_layer_imports_from_a_layer_above_it() -> None:
    wrong = []
    for module, targets in EDGES.items():
        rank, name = layer(module)
        for target, _, line in targets:
            target_rank, target_name = layer(target)
            if target_rank > rank or (target_rank == rank and target_name != name):
                wrong.append(f"{module} (line {line}, {name}) imports {target} ({target_name})")
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_private_names_of_another() -> None:
    wrong = [
        f"{module} (line {line}) imports {name} from {target}"
        for module, targets in EDGES.items()
        for target, names, line in targets
        for name in names
        if name.startswith("_") and not name.endswith("__") and target != module
    ]
    assert not wrong, "\n".join(wrong)
