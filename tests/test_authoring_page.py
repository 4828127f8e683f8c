"""The authoring page's function: only the page's own files, under the report page's strict CSP.

The page itself runs in Chromium in client/test/authoring-e2e.test.mjs, served by the local host
through this same handler.
"""

from __future__ import annotations

import pytest

from functions import BLUEPRINTS, authoring_page, reports_page
from functions.authoring_page import serve
from testing.pages import assert_page_file, page_request


def _get(path: str, **request):
    return page_request(serve, "authoring/", path, **request)


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("", "text/html; charset=utf-8", b'<script type="module" src="dist/authoring.js">'),
        ("index.html", "text/html; charset=utf-8", b"<title>"),
        ("dist/authoring.js", "text/javascript; charset=utf-8", b"authoring page"),
        ("dist/authoring.css", "text/css; charset=utf-8", b".cetegra-notification"),
    ],
)
def test_serves_the_page_and_its_bundle_with_the_strict_headers(path, content_type, marker):
    assert_page_file(_get(path), content_type, marker)


@pytest.mark.parametrize(
    "path",
    [
        "src/main.js",
        "build.mjs",
        "../reports/index.html",
        "dist/../index.html",
        "dist/x.map",
        "dist/missing.js",
    ],
)
def test_nothing_but_the_page_and_its_bundle(path):
    assert _get(path).status_code == 404


def test_other_methods_are_refused_and_the_bare_path_redirects():
    assert _get("", method="POST").status_code == 405
    bare = _get("", url="https://analytics.example/authoring")
    assert bare.status_code == 308 and bare.headers["Location"] == "authoring/"
    first = _get("")
    again = _get("", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_body() == b""
    assert _get("", method="HEAD").get_body() == b""


def test_registered_before_the_report_pages_catch_all():
    order = list(BLUEPRINTS)
    assert order.index(authoring_page.bp) < order.index(reports_page.bp)
