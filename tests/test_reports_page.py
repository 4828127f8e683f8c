"""The report page's function: only the page's own files, under the strict CSP, never anything else.

The page itself runs in Chromium in client/test/reports.test.mjs, served by this same handler.
"""

from __future__ import annotations

import json

import pytest

from functions import BLUEPRINTS, reports_page
from functions.reports_page import CONTENT_SECURITY_POLICY, PAGE_DIR, ROUTE, StaticPage, serve
from testing.pages import assert_page_file, page_request


def _get(path: str, **request):
    return page_request(serve, "reports/", path, **request)


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("", "text/html; charset=utf-8", b'<script type="module" src="dist/reports.js">'),
        ("index.html", "text/html; charset=utf-8", b"<title>"),
        ("dist/reports.js", "text/javascript; charset=utf-8", b"uPlot"),
        ("dist/reports.css", "text/css; charset=utf-8", b".uplot"),
    ],
)
def test_serves_the_page_and_its_bundle_with_the_strict_headers(path, content_type, marker):
    assert_page_file(_get(path), content_type, marker)


def test_the_policy_allows_nothing_inline_nothing_foreign_and_no_framing():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "img-src", "connect-src", "font-src"):
        assert directives[name] == "'self'", name
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "*" not in CONTENT_SECURITY_POLICY


def test_the_page_needs_nothing_the_policy_forbids():
    """No inline script, inline style or style attribute in the HTML; no eval in the bundle."""
    html = (PAGE_DIR / "index.html").read_text()
    assert "<style" not in html and "style=" not in html
    assert html.count("<script") == 1 and 'src="dist/reports.js"' in html
    assert "on" + "click=" not in html.lower()
    bundle = (PAGE_DIR / "dist" / "reports.js").read_text()
    assert "eval(" not in bundle and "new Function" not in bundle
    assert (
        ".innerHTML" not in bundle and "insertAdjacentHTML" not in bundle and "document.write" not in bundle
    )


@pytest.mark.parametrize(
    "path",
    [
        "../function_app.py",
        "dist/../../../function_app.py",
        "%2e%2e/function_app.py",
        "..%2f..%2ffunction_app.py",
        "src/main.js",
        "build.mjs",
        "dist/reports.js.map",
        "dist/",
        "dist/sub/x.js",
        "dist/.hidden.js",
        "dist/REPORTS.js",
        "index.htm",
        "/etc/passwd",
        "dist/reports.js\x00.css",
        "dist\\reports.js",
    ],
)
def test_nothing_outside_the_page_and_its_bundle_is_served(path):
    response = _get(path)
    assert response.status_code == 404
    assert json.loads(response.get_body())["error"]["code"] == "not_found"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_symlink_out_of_the_page_directory_is_not_followed(tmp_path):
    page = tmp_path / "reports"
    (page / "dist").mkdir(parents=True)
    (page / "index.html").write_text("<!doctype html>")
    secret = tmp_path / "secret.js"
    secret.write_text("secret")
    (page / "dist" / "leak.js").symlink_to(secret)
    (page / "dist" / "kept.js").write_text("kept")
    served = StaticPage(page.resolve(), "the report page", "reports/").serve
    assert page_request(served, "reports/", "dist/leak.js").status_code == 404
    assert page_request(served, "reports/", "dist/kept.js").status_code == 200
    assert page_request(served, "reports/", "").status_code == 200


def test_revalidation_answers_304_without_a_body():
    first = _get("dist/reports.js")
    again = _get("dist/reports.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.get_body()
    assert again.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert _get("dist/reports.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_head_has_headers_but_no_body_and_other_methods_are_405():
    head = _get("", method="HEAD")
    assert head.status_code == 200 and not head.get_body()
    assert head.headers["Content-Type"].startswith("text/html")
    post = _get("", method="POST")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"


def test_without_a_trailing_slash_redirects_so_relative_links_resolve():
    response = _get("", url="https://analytics.example/reports?x=1")
    assert response.status_code == 308
    assert response.headers["Location"] == "reports/"  # relative: right whatever the host prefix


def test_registered_last_as_a_page_route_outside_api(router):
    assert BLUEPRINTS[-1] is reports_page.bp
    assert ROUTE == "reports/{*path}"
    route, params = router.match("GET", "/reports/dist/reports.js")
    assert route.name == "reports_page" and params == {"path": "dist/reports.js"}
    assert router.match("GET", "/api/health")[0].name == "health"
