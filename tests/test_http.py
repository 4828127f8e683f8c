"""The HTTP edge every route shares: security headers, CORS, 404/405, no stack traces."""

from __future__ import annotations

import pytest

import function_app  # noqa: F401  (registers every endpoint)
from functions.edge import ENDPOINTS
from testing.client import ORIGIN
from testing.principal import STAFF_TENANT_ID, principal_header

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


# ---- cross-site requests: state changes need application/json -----------------------------------

STAFF_ALL_ROLES = principal_header(
    user_id="staff-all-roles",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Operator", "Cetegra.Analytics.Author", "Cetegra.Analytics.Reader"),
)
STATE_CHANGES = sorted(
    (method, endpoint.path)
    for endpoint in ENDPOINTS.values()
    for method in endpoint.operations
    if method in ("POST", "PUT", "PATCH", "DELETE")
)
"""Every state-changing operation; a browser sends a "simple" cross-site request (no CORS
preflight) only with text/plain, application/x-www-form-urlencoded or multipart/form-data."""
SIMPLE = [
    ("text/plain", b""),
    ("text/plain", b"{}"),
    ("text/plain;charset=UTF-8", b"{}"),
    ("application/x-www-form-urlencoded", b""),
    ("multipart/form-data; boundary=x", b""),
    (None, b""),  # a form or beacon with no body at all
]


def concrete(path: str) -> str:
    return path.replace("{id}", "0" * 32).replace("{tenant_id}", "c0ffee00-1111-2222-3333-444455556666")


@pytest.mark.parametrize(
    ("method", "path"), [case for case in STATE_CHANGES if case != ("POST", "/api/events")]
)
@pytest.mark.parametrize(("content_type", "body"), SIMPLE)
def test_a_state_change_needs_a_json_content_type_even_without_a_body(
    client, method, path, content_type, body
):
    audit = client.services.storage.table("audit")
    before = {name: rows for name, rows in client.stored().items() if name != audit}
    response = client.request(
        method, concrete(path), body=body, content_type=content_type, principal=STAFF_ALL_ROLES
    )
    assert response.status == 415, response.body
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert {name: rows for name, rows in client.stored().items() if name != audit} == before


def test_dismiss_and_retention_with_an_empty_text_plain_body_change_nothing(client):
    """A dismissal and a retention run sent as a cross-site simple request (text/plain, empty
    body) are refused with 415; the same run with an empty JSON body is done."""
    dismissed = client.request(
        "POST", f"/api/notifications/{'0' * 32}/dismiss", body=b"", content_type="text/plain"
    )
    assert dismissed.status == 415
    run = client.request(
        "POST", "/api/ops/retention/run", body=b"", content_type="text/plain", principal=STAFF_ALL_ROLES
    )
    assert run.status == 415 and run.json()["error"]["code"] == "unsupported_media_type"
    ok = client.request(
        "POST", "/api/ops/retention/run", body=b"", content_type="application/json", principal=STAFF_ALL_ROLES
    )
    assert ok.status == 200  # an empty JSON request still means {}


def test_events_alone_accept_text_plain_for_send_beacon(client):
    client.put("/api/consent", {"status": "granted", "policy_version": "2026-04"})
    response = client.request("POST", "/api/events", body=b'{"events":[]}', content_type="text/plain")
    assert response.status == 400  # past the content type: an empty batch is a schema error


# ---- CORS: Retry-After is readable from another origin ------------------------------------------


def exposed(response) -> set[str]:
    return {
        name.strip().lower() for name in (response.header("Access-Control-Expose-Headers") or "").split(",")
    }


def test_every_cors_response_exposes_retry_after(client, vault):
    vault.down = True  # a cold salt cache: 503
    unavailable = client.get("/api/consent", headers={"Origin": ORIGIN})
    assert unavailable.status == 503 and unavailable.header("Retry-After")
    assert "retry-after" in exposed(unavailable)  # a client on another site can honour it
    vault.down = False
    ok = client.get("/api/consent", headers={"Origin": ORIGIN})
    assert ok.status == 200 and "retry-after" in exposed(ok)
    denied = client.post("/api/ops/retention/run", {}, headers={"Origin": ORIGIN})
    assert denied.status == 403 and "retry-after" in exposed(denied)
    preflight = client.request(
        "OPTIONS",
        "/api/events",
        principal=None,
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status == 204 and "retry-after" in exposed(preflight)


def test_a_429_tells_a_client_on_another_origin_when_to_retry(make_client):
    from shared.ingestion.limits import EventRateLimit

    client = make_client(EVENTS_PER_MINUTE="120")
    client.services.ingest.limit = EventRateLimit(120, clock=lambda: 1000.0)
    client.put("/api/consent", {"status": "granted", "policy_version": "2026-04"})
    events = [
        {
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "name": "app.launch",
            "session_id": "6f1c2b4e-0000-4000-8000-000000000001",
        }
        for i in range(100)
    ]
    assert client.post("/api/events", {"events": events}, headers={"Origin": ORIGIN}).status == 202
    refused = client.post("/api/events", {"events": events[:30]}, headers={"Origin": ORIGIN})
    assert refused.status == 429 and refused.header("Retry-After") == "5"
    assert refused.header("Access-Control-Allow-Origin") == ORIGIN and "retry-after" in exposed(refused)


def test_no_cors_headers_at_all_for_other_origins(client):
    response = client.get("/api/consent", headers={"Origin": "https://evil.example"})
    assert response.header("Access-Control-Expose-Headers") is None
    assert client.get("/api/consent").header("Access-Control-Expose-Headers") is None  # same origin
