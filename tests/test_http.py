"""The HTTP edge every route shares: security headers, CORS, 404/405, no stack traces."""

from __future__ import annotations

import pytest

from testing.client import ORIGIN

ROUTES = ["/api/health", "/api/openapi.json", "/api/consent"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_security_headers_on_success_and_error(client, path, method):
    response = client.request(method, path)
    assert response.header("Cache-Control") == "no-store"
    assert response.header("X-Content-Type-Options") == "nosniff"
    assert response.header("Content-Type") == "application/json; charset=utf-8"


def test_allowed_origin_gets_cors_headers(client):
    response = client.get("/api/consent", headers={"Origin": ORIGIN})
    assert response.header("Access-Control-Allow-Origin") == ORIGIN
    assert response.header("Access-Control-Allow-Credentials") == "true"
    assert response.header("Vary") == "Origin"


def test_other_origin_gets_no_cors_headers(client):
    response = client.get("/api/consent", headers={"Origin": "https://evil.example"})
    assert response.header("Access-Control-Allow-Origin") is None


def test_preflight_allowed(client):
    response = client.request(
        "OPTIONS",
        "/api/consent",
        principal=None,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert response.header("Access-Control-Allow-Origin") == ORIGIN
    assert set(response.header("Access-Control-Allow-Methods").split(", ")) == {"GET", "PUT"}
    assert "content-type" in response.header("Access-Control-Allow-Headers")
    assert response.header("Access-Control-Max-Age") == "600"


def test_preflight_other_origin_refused(client):
    response = client.request(
        "OPTIONS",
        "/api/consent",
        principal=None,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"},
    )
    assert response.status == 403
    assert response.json()["error"]["code"] == "cors_origin_not_allowed"
    assert response.header("Access-Control-Allow-Origin") is None


def test_preflight_for_unsupported_method(client):
    response = client.request(
        "OPTIONS",
        "/api/consent",
        principal=None,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"},
    )
    assert response.status == 405


def test_unknown_route_is_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unexpected_error_is_500_without_trace(client, monkeypatch, logs):
    def explode(*args, **kwargs):
        raise KeyError("internal detail")

    monkeypatch.setattr(client.services.consent, "view", explode)
    response = client.get("/api/consent")
    assert response.status == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "internal detail" not in logs.text and "Traceback" not in response.body.decode()
