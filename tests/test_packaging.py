"""The deployed package (`.funcignore`) holds what the app needs and nothing of the tooling: the
real worker indexes the package itself, not the repository (so a module that only exists in the
work tree, or a page file left out of the package, fails here rather than in Azure)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pathspec
import pytest

from tests.test_worker_indexing import EXPECTED, ROOT, start_worker

pytestmark = pytest.mark.system


def deployment_files(root: Path) -> list[Path]:
    """Every tracked or untracked file under `root` that `.funcignore` does not exclude."""
    spec = pathspec.GitIgnoreSpec.from_lines((root / ".funcignore").read_text().splitlines())
    files = [p.relative_to(root) for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    return sorted(p for p in files if not spec.match_file(p.as_posix()))


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("package")
    for relative in deployment_files(ROOT):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target / relative)
    return target


def test_the_package_holds_the_app_and_its_data_files(package: Path) -> None:
    names = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    for needed in (
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shared/ingestion/event_catalogue.json",
        "shared/ingestion/page_catalogue.json",
        "shared/ingestion/app_catalogue.json",
        "client/reports/index.html",
        "client/reports/dist/reports.js",
        "client/reports/dist/reports.css",
    ):
        assert needed in names, needed
    leaked = sorted(
        n
        for n in names
        if n.split("/")[0] in {"tests", "testing", "tools", "bench", "docs", "infra", "node_modules"}
        or n.startswith(("client/test", "client/demo", "client/reports/src", ".venv"))
        or n.endswith(".md")
    )
    assert leaked == []


def test_the_worker_indexes_the_package_itself(package: Path) -> None:
    indexed: dict[str, Any] = start_worker(package, isolated=True)
    assert indexed["status"] == "Success", indexed.get("message")
    assert {f["name"] for f in indexed["functions"]} == set(EXPECTED)
