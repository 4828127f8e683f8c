"""The report page (`/reports/`): static files of `client/reports/`, under a strict CSP.

The page is the product teams' way into the aggregates ("to understand how Cetegra Workspace is
used and where the product can be improved"). It holds no data itself: every figure comes from the
`/api/reports/*` routes, which check the reader role; Easy Auth guards this route like any other in
Azure. This adapter therefore only maps a path to one of a closed set of files (`index.html` and
the committed bundle in `dist/`), so nothing else of the deployment (sources, settings, Python)
can be read through it, and sends each with headers that make the page's own promise enforceable
by the browser: no inline script or style, no eval, no framing, nothing loaded from elsewhere —
report text can never run as code even if a tenant name were hostile.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import azure.functions as func

from functions.edge import blueprint, error_response, with_base_headers
from shared.kernel.errors import MethodNotAllowed, NotFound

bp = blueprint()

PAGE_DIR = Path(__file__).resolve().parent.parent / "client" / "reports"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
"""One value for Azure, the local host and the browser tests (client/test/reports_server.py).

`trusted-types 'none'` with `require-trusted-types-for 'script'` makes every string assignment to
an HTML sink (innerHTML, outerHTML, insertAdjacentHTML, document.write) throw in the browser: the
rule "text only via textContent" is enforced, not merely followed."""

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    # Behind Easy Auth: never in a shared cache; always revalidated (the bundle is not
    # fingerprinted), which costs a 304 thanks to the ETag.
    "Cache-Control": "private, no-cache",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
ASSET = re.compile(r"dist/[a-z0-9][a-z0-9_-]*\.(?:js|css)")
"""The bundle's file names: no dot-segments, no slashes beyond `dist/`, no other suffixes."""


@dataclass(frozen=True)
class StaticPage:
    """A page of static files (the report page, the authoring page): a closed set of files under
    `directory` (`index.html` and the committed bundle in `dist/`), served with `PAGE_HEADERS`."""

    directory: Path
    name: str
    """How errors name it: "the report page"."""
    mount: str
    """Its route prefix with the slash: `reports/`."""

    @property
    def route(self) -> str:
        """The route the page's function is registered under: the mount and any path below it."""
        return self.mount + "{*path}"

    def register(self, blueprint: func.Blueprint, name: str) -> None:
        """Register the page's function, named `name`, on `blueprint`: every method reaches it
        (it answers 405 itself), anonymously (Easy Auth guards it in Azure)."""

        def page(req: func.HttpRequest) -> func.HttpResponse:
            return self.serve(req)

        page.__name__ = page.__qualname__ = name
        blueprint.function_name(name)(
            blueprint.route(route=self.route, methods=None, auth_level=func.AuthLevel.ANONYMOUS)(page)
        )

    def page_file(self, path: str) -> Path | None:
        """The file a route path names, or None: only `index.html` and the bundle in `dist/`."""
        if path in ("", "index.html"):
            target = self.directory / "index.html"
        elif ASSET.fullmatch(path):
            target = self.directory / path
        else:
            return None
        resolved = target.resolve()
        if not resolved.is_relative_to(self.directory) or not resolved.is_file():
            return None
        return resolved

    def serve(self, req: func.HttpRequest) -> func.HttpResponse:
        """GET/HEAD of the page's files; the mount without its slash redirects (308) so relative
        links resolve; an unchanged file is a 304 by its ETag."""
        method = req.method.upper()
        if method not in ("GET", "HEAD"):
            return with_base_headers(
                error_response(
                    MethodNotAllowed(f"{method} is not allowed on {self.name}", allow=("GET", "HEAD"))
                )
            )
        path = req.route_params.get("path") or ""
        if not path and not req.url.split("?", 1)[0].endswith("/"):
            return _with_page_headers(func.HttpResponse(status_code=308, headers={"Location": self.mount}))
        target = self.page_file(path)
        if target is None:
            return with_base_headers(error_response(NotFound(f"no such file on {self.name}")))
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


PAGE = StaticPage(PAGE_DIR, "the report page", "reports/")
ROUTE = PAGE.route
serve = PAGE.serve
PAGE.register(bp, "reports_page")
