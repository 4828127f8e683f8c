"""`make run`'s host end to end: real sockets, routes read from the FunctionApp, no access log with IPs.

Its parts are tested on their own in test_localhost_parts.py."""

from __future__ import annotations

import http.client
import json

import pytest

from testing.azurite import free_port
from testing.principal import STAFF_TENANT_ID, principal_header
from tools.localhost import serve

pytestmark = pytest.mark.system


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def server(client, router):
    """The local host (`make run`'s server: the kit's routing plus static files and the Easy Auth
    stand-in) over the registered functions, on a free loopback port."""
    port = free_port()
    httpd = serve(router, port)
    yield port
    httpd.shutdown()
    httpd.server_close()


def _request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_serves_registered_functions(server, capsys):
    status, headers, body = _request(server, "GET", "/api/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert headers["Cache-Control"] == "no-store"
    principal = principal_header()
    payload = json.dumps({"status": "granted", "policy_version": "2026-04"})
    status, _, body = _request(
        server,
        "PUT",
        "/api/consent",
        payload,
        {"Content-Type": "application/json", "X-MS-CLIENT-PRINCIPAL": principal},
    )
    assert status == 200 and json.loads(body)["status"] == "granted"
    status, _, body = _request(server, "GET", "/api/consent", headers={"X-MS-CLIENT-PRINCIPAL": principal})
    assert json.loads(body)["status"] == "granted"
    assert "127.0.0.1" not in capsys.readouterr().err  # no access log with client addresses


def test_routes_match_as_the_functions_host_matches_them(server):
    """Case-insensitive, one trailing slash tolerated: as in Azure (these were 404s locally)."""
    for path in ("/api/Health", "/api/health/", "/API/HEALTH"):
        status, _, body = _request(server, "GET", path)
        assert status == 200 and json.loads(body)["status"] == "ok", path


def test_unknown_path_and_prefix(server):
    for path in (
        "/api/unknown",
        "/consent",
        "/client/../function_app.py",
        "/client/%2e%2e/README.md",
        "/client/nope.js",
    ):
        status, _, body = _request(server, "GET", path)
        assert status == 404
        assert json.loads(body)["error"]["code"] == "not_found"


def test_serves_the_web_client_and_its_demo(server):
    status, headers, body = _request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"consent" in body
    status, headers, body = _request(server, "GET", "/client/cetegra-analytics.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b"export async function init" in body


def test_session_cookie_stands_in_for_easy_auth_locally(server):
    principal = principal_header(user_id="cookie-user")
    status, _, body = _request(
        server, "GET", "/api/consent", headers={"Cookie": f"AppServiceAuthSession={principal}"}
    )
    assert status == 200 and json.loads(body)["status"] == "unset"
    assert _request(server, "GET", "/api/consent", headers={"Cookie": "other=1"})[0] == 401


def test_demo_sign_in_sets_the_session_cookie_and_returns_to_the_page(server):
    """`/.auth/login/aad` (Easy Auth's login path) signs a demo principal in; the report page is
    opened through it. Only local paths are accepted as the way back."""
    status, headers, _ = _request(
        server, "GET", "/.auth/login/aad?roles=Cetegra.Analytics.Operator&post_login_redirect_uri=/reports/"
    )
    assert status == 302 and headers["Location"] == "/reports/"
    cookie = headers["Set-Cookie"].split(";")[0]
    assert cookie.startswith("AppServiceAuthSession=") and "HttpOnly" in headers["Set-Cookie"]
    status, _, _ = _request(server, "POST", "/api/ops/retention/run", b"{}", {"Cookie": cookie, **JSON})
    assert status == 200  # the operator role came with the cookie (of the staff tenant)
    customer = "/.auth/login/aad?tenant=c0ffee00-1111-2222-3333-444455556666&roles=Cetegra.Analytics.Operator"
    claimed = _request(server, "GET", customer)[1]["Set-Cookie"].split(";")[0]
    status, _, _ = _request(server, "POST", "/api/ops/retention/run", b"{}", {"Cookie": claimed, **JSON})
    assert status == 403  # the same role from a customer's tenant counts for nothing
    status, headers, _ = _request(
        server, "GET", "/.auth/login/aad?post_login_redirect_uri=https://evil.example/"
    )
    assert status == 302 and headers["Location"] == "/"
    default = headers["Set-Cookie"].split(";")[0]
    status, _, _ = _request(server, "POST", "/api/ops/retention/run", b"{}", {"Cookie": default, **JSON})
    assert status == 403  # the default demo principal is a Reader, not an operator
    status, headers, _ = _request(server, "GET", "/.auth/logout")
    assert status == 302 and "Max-Age=0" in headers["Set-Cookie"]


def test_bearer_token_stands_in_for_easy_auth_locally(server):
    """A client on another site sends `Authorization: Bearer` (no cookie); locally the "token" is
    the base64 principal, as the demo's cookie is."""
    principal = principal_header(user_id="bearer-user")
    status, _, body = _request(
        server, "GET", "/api/consent", headers={"Authorization": f"Bearer {principal}"}
    )
    assert status == 200 and json.loads(body)["status"] == "unset"
    assert _request(server, "GET", "/api/consent", headers={"Authorization": "Basic abc"})[0] == 401
    assert _request(server, "GET", "/api/consent", headers={"Authorization": "Bearer "})[0] == 401


TID_X = "c0ffee00-0000-4000-8000-000000000001"


def test_ops_cli_against_the_local_host(server, client, capsys, tmp_path):
    from tools import ops

    base = f"http://127.0.0.1:{server}"
    assert ops.main(["--url", base, "--local-operator", "retention"]) == 0
    assert json.loads(capsys.readouterr().out)["removed_periods"] == 0
    assert (
        ops.main(
            ["--url", base, "--local-operator", "unlisted", "--from", "2026-11-01", "--to", "2026-11-23"]
        )
        == 0
    )
    days = json.loads(capsys.readouterr().out)["days"]  # retention pre-creates day tables: empty days
    assert all(day["events"] == day["unlisted_pages"] == day["unlisted_apps"] == 0 for day in days)
    out = tmp_path / "export.json"
    assert (
        ops.main(
            [
                "--url",
                base,
                "--local-operator",
                "export",
                "--user-id",
                "u",
                "--tenant-id",
                "t",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text()) == {
        "consent": None,
        "events": [],
        "activity": [],
        "first_seen": [],
        "consent_markers": [],
        "notifications": {"state": [], "answers": [], "cadence": []},
    }
    assert (
        ops.main(
            [
                "--url",
                base,
                "--local-operator",
                "erasure",
                "--user-id",
                "u",
                "--tenant-id",
                "t",
                "--mode",
                "delete",
            ]
        )
        == 0
    )
    output = capsys.readouterr().out
    assert output.startswith(f"export written to {out} (0 events)")
    erased = json.loads(output[output.index("{") :])
    assert (
        erased["events_affected"] == 0
        and erased["consent_deleted"] is False
        and erased["notification_rows_deleted"] == 0
        and len(erased["audit_id"]) == 32
    )
    records = client.services.tables.audit.day(client.clock.now.date())
    assert len(records) == 4  # retention, unlisted, export, erasure: every ops call audited
    named = ["--url", base, "--local-operator", "tenant-name", "--tenant-id", TID_X, "--name", "Contoso"]
    assert ops.main(named) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (
        answer["name"] == "Contoso" and answer["tenant"].startswith("k") and TID_X not in json.dumps(answer)
    )
    lookup = ["--url", base, "--local-operator", "audit-ref", "--user-id", "u", "--tenant-id", "t"]
    assert ops.main(lookup) == 0
    [reference] = json.loads(capsys.readouterr().out)["references"]
    exported = next(
        r for r in client.services.tables.audit.day(client.clock.now.date()) if "export" in r.operation
    )
    assert exported.target == "subject:" + reference["reference"]  # whose data the CLI exported


def test_ops_cli_refuses_local_principal_for_remote_urls():
    from tools import ops

    with pytest.raises(SystemExit, match="local host"):
        ops.main(["--url", "https://analytics.cetegra.com", "--local-operator", "retention"])


def test_ops_cli_without_role_fails(server):
    from tools import ops

    assert ops.main(["--url", f"http://127.0.0.1:{server}", "--token", "not-a-real-token", "retention"]) == 1


def test_a_cross_site_simple_request_changes_nothing_through_the_local_host(server):
    """A form, a beacon or a text/plain fetch from another site (no CORS preflight) is 415 on every
    state-changing route but `POST /api/events`, also with an empty body."""
    principal = {"X-MS-CLIENT-PRINCIPAL": principal_header(user_id="cross-site-victim")}
    operator = principal_header(tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Operator",))
    for path, who in (
        ("/api/notifications/x/dismiss", principal),
        ("/api/ops/retention/run", {"X-MS-CLIENT-PRINCIPAL": operator}),
    ):
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            headers = {**who, "Content-Type": content_type}
            status, _, body = _request(server, "POST", path, b"", headers)
            assert status == 415 and json.loads(body)["error"]["code"] == "unsupported_media_type"
    status, _, _ = _request(
        server,
        "PUT",
        "/api/consent",
        b'{"status":"granted","policy_version":"2026-04"}',
        {**principal, "Content-Type": "text/plain"},
    )
    assert status == 415


def test_cors_responses_expose_retry_after_through_the_local_host(server):
    """The local host adds no CORS of its own: the app's headers reach the browser."""
    from testing.client import ORIGIN

    principal = principal_header(user_id="cors-user")
    status, headers, _ = _request(
        server, "GET", "/api/consent", headers={"Origin": ORIGIN, "X-MS-CLIENT-PRINCIPAL": principal}
    )
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ORIGIN
    assert headers["Access-Control-Expose-Headers"] == "Retry-After"
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    status, headers, _ = _request(server, "OPTIONS", "/api/events", headers=preflight)
    assert status == 204 and headers["Access-Control-Expose-Headers"] == "Retry-After"
