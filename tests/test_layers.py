"""The packages read records -> fetch -> dataset -> features -> benchmark: none imports one
to its right, at module level or inside a function (ARCHITECTURE.md)."""
from __future__ import annotations

import ast
from pathlib import Path

import mmimdb

#: The stages, lowest first: each may import those before it, never those after it.
LAYERS = ("records", "fetch", "dataset", "features", "benchmark")
PACKAGE = Path(mmimdb.__file__).parent


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from (also for __init__.py)
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # "from .. import dataset" names the module in the alias
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == "mmimdb" and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return None


def test_no_stage_imports_a_stage_to_its_right():
    wrong = []
    for index, layer in enumerate(LAYERS):
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for line, module in imported_modules(path):
                target = layer_of(module)
                if target is not None and target > index:
                    wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    assert not wrong, "a stage imports one to its right:\n" + "\n".join(wrong)


def test_the_check_resolves_relative_imports():
    # The check is only as good as its resolution of "from ...dataset.store import X".
    source = PACKAGE / "fetch" / "crawl" / "pipeline.py"
    modules = [module for _, module in imported_modules(source)]
    assert "mmimdb.records.store.RecordStore" in modules
    assert layer_of("mmimdb.dataset.split") == 2 and layer_of("mmimdb.errors.UsageError") is None
