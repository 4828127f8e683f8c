"""The web client and its demo (`/` and `/client/...`): local development only.

Nothing outside `client/` is ever served, and only the file types the client uses.
"""

from __future__ import annotations

from pathlib import Path

from functions.edge import BASE_HEADERS

CLIENT = Path(__file__).resolve().parents[2] / "client"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}


def static_file(path: str, root: Path = CLIENT) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """(status, headers, body) of the file `path` names, or None if it names none we serve."""
    relative = "demo/index.html" if path in ("/", "/demo", "/demo/") else path.removeprefix("/client/")
    if relative == path:
        return None
    target = (root / relative).resolve()
    if not target.is_relative_to(root.resolve()) or not target.is_file() or target.suffix not in STATIC_TYPES:
        return None
    headers = [("Content-Type", STATIC_TYPES[target.suffix]), *BASE_HEADERS.items()]
    return 200, headers, target.read_bytes()
