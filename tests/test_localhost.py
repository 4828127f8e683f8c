"""`make run`'s host: real sockets, routes read from the FunctionApp, no access log with IPs."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.conftest import principal_header
from tools.localhost import _compile


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


def test_route_templates():
    assert _compile("ops/erasure").match("ops/erasure")
    assert not _compile("ops/erasure").match("ops/erasure/x")
    assert _compile("items/{id:int}").match("items/42").group("id") == "42"
    assert _compile("files/{*rest}").match("files/a/b").group("rest") == "a/b"


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 5 0 * * *", "2026-11-23T12:00:00", "2026-11-24T00:05:00"),
        ("0 5 0 * * *", "2026-11-23T00:04:59", "2026-11-23T00:05:00"),
        ("0 30 0 * * *", "2026-12-31T23:59:59", "2027-01-01T00:30:00"),
        ("*/15 * * * * *", "2026-11-23T12:00:14", "2026-11-23T12:00:15"),
        ("0 0 9 * * 1-5", "2026-11-21T10:00:00", "2026-11-23T09:00:00"),  # Saturday → Monday
        ("0 0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
    ],
)
def test_ncrontab(expression, after, expected):
    from datetime import UTC, datetime

    from tools.localhost import next_fire

    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert next_fire(expression, start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_timers_are_registered_for_the_local_host(router):
    assert {t.get_function_name() for t in router.timers} == {"retention_timer", "aggregation_timer"}


TID_X = "c0ffee00-0000-4000-8000-000000000001"


def test_ops_cli_against_the_local_host(server, client, capsys, tmp_path):
    from tools import ops

    base = f"http://127.0.0.1:{server}"
    assert ops.main(["--url", base, "--local-operator", "retention"]) == 0
    assert json.loads(capsys.readouterr().out)["removed_periods"] == 0
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
    assert json.loads(out.read_text()) == {"consent": None, "events": [], "activity": [], "first_seen": []}
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
        and len(erased["audit_id"]) == 32
    )
    records = client.services.storage.audit_records(client.clock.now.strftime("%Y%m%d"))
    assert len(records) == 3
    named = ["--url", base, "--local-operator", "tenant-name", "--tenant-id", TID_X, "--name", "Contoso"]
    assert ops.main(named) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (
        answer["name"] == "Contoso" and answer["tenant"].startswith("k") and TID_X not in json.dumps(answer)
    )


def test_ops_cli_refuses_local_principal_for_remote_urls():
    from tools import ops

    with pytest.raises(SystemExit, match="local host"):
        ops.main(["--url", "https://analytics.cetegra.com", "--local-operator", "retention"])


def test_ops_cli_without_role_fails(server):
    from tools import ops

    assert ops.main(["--url", f"http://127.0.0.1:{server}", "--token", "not-a-real-token", "retention"]) == 1
