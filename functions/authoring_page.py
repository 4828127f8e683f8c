"""The authoring page (`/authoring/`): static files of `client/authoring/`, under the report page's
strict CSP and headers.

Authors write, preview, schedule, publish and archive notifications and surveys here instead of
sending JSON by hand. The page holds no data: every item, reach figure and result comes from the
`/api/authoring/*` routes, which check the author (or operator) role and audit each call; Easy
Auth guards this route like any other in Azure. As for the report page, this adapter maps a path
to one of a closed set of files (`index.html` and the committed bundle in `dist/`) and sends them
with headers under which item text can never run as code (Trusted Types: no HTML sinks at all).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import azure.functions as func

from functions.edge import blueprint, error_response, with_base_headers
from functions.reports_page import CONTENT_TYPES, PAGE_HEADERS
from shared.kernel.errors import MethodNotAllowed, NotFound

bp = blueprint()

ROUTE = "authoring/{*path}"
PAGE_DIR = Path(__file__).resolve().parent.parent / "client" / "authoring"
ASSET = re.compile(r"dist/[a-z0-9][a-z0-9_-]*\.(?:js|css)")
"""The bundle's file names: no dot-segments, no slashes beyond `dist/`, no other suffixes."""


def page_file(path: str) -> Path | None:
    """The file a route path names, or None: only `index.html` and the bundle in `dist/`."""
    if path in ("", "index.html"):
        target = PAGE_DIR / "index.html"
    elif ASSET.fullmatch(path):
        target = PAGE_DIR / path
    else:
        return None
    resolved = target.resolve()
    if not resolved.is_relative_to(PAGE_DIR) or not resolved.is_file():
        return None
    return resolved


def serve(req: func.HttpRequest) -> func.HttpResponse:
    """GET/HEAD of the page's files; `/authoring` (no slash) redirects so relative links resolve."""
    method = req.method.upper()
    if method not in ("GET", "HEAD"):
        return with_base_headers(
            error_response(
                MethodNotAllowed(f"{method} is not allowed on the authoring page", allow=("GET", "HEAD"))
            )
        )
    path = req.route_params.get("path") or ""
    if not path and not req.url.split("?", 1)[0].endswith("/"):
        return _with_page_headers(func.HttpResponse(status_code=308, headers={"Location": "authoring/"}))
    target = page_file(path)
    if target is None:
        return with_base_headers(error_response(NotFound("no such file on the authoring page")))
    body = target.read_bytes()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if etag in (req.headers.get("if-none-match") or "").replace(" ", "").split(","):
        return _with_page_headers(func.HttpResponse(status_code=304, headers={"ETag": etag}))
    response = func.HttpResponse(
        body=b"" if method == "HEAD" else body,
        status_code=200,
        headers={"Content-Type": CONTENT_TYPES[target.suffix], "ETag": etag},
    )
    return _with_page_headers(response)


def _with_page_headers(response: func.HttpResponse) -> func.HttpResponse:
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    return response


@bp.function_name("authoring_page")
@bp.route(route=ROUTE, methods=None, auth_level=func.AuthLevel.ANONYMOUS)
def authoring_page(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req)
