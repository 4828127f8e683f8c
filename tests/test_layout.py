"""The import graph the testing kit exists for: benchmarks, tools and the kit never import the test
suite, and the kit (not `tests/`) is where shared test code lives."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["bench", "tools", "testing", "shared", "functions"])
def test_nothing_outside_tests_imports_the_test_suite(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        offending = {name for name in imported_modules(path) if name == "tests" or name.startswith("tests.")}
        assert not offending, f"{path.relative_to(ROOT)} imports {offending}"


def test_the_test_suite_shares_code_only_through_the_kit():
    """conftest takes its fixtures from `testing.fixtures` and reaches the local host only through
    the kit; test modules import no other test module's helpers from conftest."""
    assert imported_modules(ROOT / "tests" / "conftest.py") & {"tools.localhost", "testing.azurite"} == set()
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        assert "tests.conftest" not in imported_modules(path), path.name


def test_one_principal_encoder():
    """Only testing/principal.py builds an Easy Auth principal (base64 JSON of claims)."""
    for package in ("bench", "tools", "testing", "tests"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "principal.py" or path.parent.name == "tests":
                continue
            assert "b64encode" not in path.read_text(), f"{path.relative_to(ROOT)} encodes a principal"
