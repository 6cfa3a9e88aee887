"""Every example in the library's docstrings runs and prints what it says.

A docstring example is the first code a reader copies; one that fails (an import that no
longer exists, a value that changed) misleads quietly. Examples marked ``+SKIP`` (they need a
built root or a model run) are not run.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import mmimdb


def _modules() -> list[str]:
    names = [mmimdb.__name__]
    for info in pkgutil.walk_packages(mmimdb.__path__, prefix="mmimdb."):
        names.append(info.name)
    return sorted(names)


def test_every_docstring_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a relative path writes here
    finder, failures, ran = doctest.DocTestFinder(), [], 0
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            if not test.examples:
                continue
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            output: list[str] = []
            result = runner.run(test, out=output.append)
            ran += result.attempted
            if result.failed:
                failures.append("".join(output))
    assert ran > 20, f"only {ran} examples found: the finder no longer sees the docstrings"
    assert not failures, "\n".join(failures)
