"""docs/api.md is the HTTP reference a user of the project reads: its route and schema part is the
OpenAPI document the app serves, and no document of the project points outside the repository
(a person who clones it has nothing beside it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tools.api_reference import current

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_route_reference_is_the_served_openapi_document():
    text, fresh = current()
    assert text == fresh, "docs/api.md is stale: run python -m tools.api_reference"


def test_every_route_and_schema_is_in_the_reference():
    from functions.openapi_document import build_document

    text, _ = current()
    document = build_document()
    for path, item in document["paths"].items():
        assert f"### `{path}`" in text
        for method in item:
            assert f"**{method.upper()}** — " in text
    for name in document["components"]["schemas"]:
        assert f"### `{name}`" in text


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_no_document_links_outside_the_repository():
    for doc in documents():
        text = doc.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{doc.name} points at the team folder beside the repo"
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # a web address, not a file
            assert (doc.parent / target).resolve().exists(), f"{doc.name}: dead link {target}"
            assert ROOT in (doc.parent / target).resolve().parents, f"{doc.name}: {target} is outside"


OUTSIDE = re.compile(r"\.\./shared/|api-contract|/work/|/home/")
"""What points outside a clone: the team folder beside the repository, its API contract, a path
on one machine."""


SKIPPED = {".git", "node_modules", "__pycache__"}
"""Not the project's own files: git's store, installed packages, byte code (and every folder
whose name starts with a dot: virtual environments, tool caches)."""


def project_files() -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in SKIPPED and not d.startswith(".")]
        found += [Path(folder, name) for name in files]
    return found


def test_no_file_of_the_project_points_outside_the_repository():
    """Code comments, tests, client sources and results too, not only the documents."""
    found = []
    for path in project_files():
        if path == Path(__file__):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # an image or other binary file
        lines = enumerate(text.splitlines(), 1)
        found += [f"{path.relative_to(ROOT)}:{n}" for n, line in lines if OUTSIDE.search(line)]
    assert found == []


def test_the_served_document_points_at_the_projects_own_reference():
    from functions.openapi_document import build_document

    assert "../shared" not in str(build_document()["info"])
