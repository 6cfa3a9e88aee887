"""setup.cfg tells the truth: every package the code imports is declared (so that a clean
``pip install`` has it), and the Python it says it supports can install every extra."""
from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

HERE = Path(__file__).resolve().parents[1]
#: Imported only behind an ImportError guard that names how to get it.
OPTIONAL = {"sqlalchemy": "server databases for imdb-datasets: pip install 'cinemagoer[sqlalchemy]' (README)"}


def _setup() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(HERE / "setup.cfg")
    return config


def _requirements(config: configparser.ConfigParser) -> list[Requirement]:
    lines = config["options"]["install_requires"].splitlines()
    for extra in config["options.extras_require"].values():
        lines += extra.splitlines()
    return [Requirement(line) for line in (line.strip() for line in lines) if line and not line.startswith("#")]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_packages() -> dict[str, str]:
    """Top-level third-party module -> a file that imports it, over mmimdb/ and cli/."""
    found: dict[str, str] = {}
    for path in sorted([*(HERE / "mmimdb").rglob("*.py"), *(HERE / "cli").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("__future__", "mmimdb", "mmimdb_cli"):
                    found.setdefault(top, str(path.relative_to(HERE)))
    return found


def test_every_imported_package_is_declared():
    declared = {_canonical(requirement.name) for requirement in _requirements(_setup())}
    distributions = importlib.metadata.packages_distributions()
    missing, not_installed = [], []
    for module, where in _imported_packages().items():
        if module in OPTIONAL:
            continue
        names = {_canonical(name) for name in distributions.get(module, [module])}
        if not names & declared:
            # Only an installed module names its distribution (markdown_it is markdown-it-py's):
            # one of an extra this environment lacks cannot be told from an undeclared one.
            (missing if module in distributions else not_installed).append(
                f"{module} (imported in {where}; distribution {', '.join(sorted(names))})")
    assert not missing, "imported but not in setup.cfg: " + "; ".join(missing)
    if not_installed:
        pytest.skip("cannot tell the distribution of modules not installed here (an extra left out): "
                    + "; ".join(not_installed))


def test_no_requirement_is_left_out_on_a_python_that_python_requires_allows():
    config = _setup()
    supported = SpecifierSet(config["options"]["python_requires"])
    lowest = min(f"3.{minor}" for minor in range(6, 30) if supported.contains(f"3.{minor}.0"))
    excluded = [str(requirement) for requirement in _requirements(config)
                if requirement.marker is not None and not requirement.marker.evaluate({"python_version": lowest})]
    assert not excluded, f"python_requires allows {lowest}, where these would not be installed: {excluded}"
    assert supported.contains(f"{sys.version_info.major}.{sys.version_info.minor}.0")
