"""The bench scripts are not run by the tests (speed lives in bench/), so their imports of this package are
checked here: a renamed or removed name fails at once instead of at the next `make bench`."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def package_imports(script: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from deepfake_detection... import name` in a script, at any depth."""
    found = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepfake_detection"):
            found += [(node.module, alias.name) for alias in node.names]
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_bench_script_imports_names_the_package_has(script: Path):
    imports = package_imports(script)
    assert imports, f"{script.name} imports nothing from the package: is it still a bench of this project?"
    missing = [f"{module}.{name}" for module, name in imports
               if not hasattr(importlib.import_module(module), name)
               and importlib.util.find_spec(f"{module}.{name}") is None]
    assert missing == [], f"{script.name} imports names the package no longer has: {missing}"
