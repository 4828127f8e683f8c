"""Requests to a static page's function (the report page, the authoring page) and the headers every
file of such a page must carry (functions/reports_page.py's `StaticPage`).

The page tests call the page's handler directly, as the Functions host would with the route's
`{*path}` parameter; the answers are checked against the strict header set the pages share.
"""

from __future__ import annotations

from collections.abc import Callable

import azure.functions as func

from functions.reports_page import CONTENT_SECURITY_POLICY

Serve = Callable[[func.HttpRequest], func.HttpResponse]


def page_request(
    serve: Serve,
    mount: str,
    path: str,
    *,
    method: str = "GET",
    url: str | None = None,
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    """`serve`'s answer to `method` on `path` under the page's `mount` (`reports/`)."""
    request = func.HttpRequest(
        method=method,
        url=url or f"https://analytics.example/{mount}{path}",
        headers=headers or {},
        params={},
        route_params={"path": path},
        body=b"",
    )
    return serve(request)


def assert_page_file(response: func.HttpResponse, content_type: str, marker: bytes) -> None:
    """A file of the page, sent whole with its content type under the pages' strict headers: the
    CSP (Trusted Types with no policy: no HTML sinks), no sniffing, no framing, no referrer, never
    in a shared cache, revalidated by its ETag."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert marker in response.get_body()
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "trusted-types 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["ETag"].startswith('"')
