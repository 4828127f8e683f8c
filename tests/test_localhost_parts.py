"""The local host's parts, each on its own (no emulator, no sockets): routing as the Functions host
routes, NCRONTAB schedules via croniter, static files and the Easy Auth stand-in."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from functions.authoring_page import ROUTE as AUTHORING_PAGE
from functions.reports_page import ROUTE as REPORT_PAGE
from testing.host import Router, compile_template, route_prefix
from testing.principal import principal_header
from tools.localhost.easyauth import SESSION_COOKIE, emulate_easy_auth
from tools.localhost.schedule import next_fire
from tools.localhost.static import CLIENT, static_file

# ---- routing -------------------------------------------------------------------------------------


def test_route_templates():
    assert compile_template("ops/erasure").match("ops/erasure")
    assert not compile_template("ops/erasure").match("ops/erasure/x")
    assert compile_template("items/{id:int}").match("items/42").group("id") == "42"
    assert compile_template("files/{*rest}").match("files/a/b").group("rest") == "a/b"
    assert compile_template("Items/{id}").match("items/AbC").group("id") == "AbC"  # values keep case


@pytest.mark.parametrize("path", ["/api/health", "/api/Health", "/API/HEALTH", "/api/health/"])
def test_matching_is_case_insensitive_and_tolerates_a_trailing_slash(router, path):
    matched = router.match("GET", path)
    assert matched is not None and matched[0].name == "health"


def test_route_values_are_percent_decoded_as_the_host_decodes_them(router):
    """The host hands functions decoded route values (UTF-8), but keeps an encoded slash: a tenant
    id with spaces and combining marks reaches the function as the text it is (the API fuzzer found
    a 210-character id whose encoded form was over the 256-character limit)."""
    matched = router.match("PUT", "/api/ops/tenants/T%CC%BAo%20k%C3%A8%2Fx%25")
    assert matched is not None and matched[1] == {"tenant_id": "T\u033ao k\u00e8%2Fx%"}


@pytest.mark.parametrize("path", ["/health", "/api/health//", "/api/healthz", "/api", "/"])
def test_other_paths_do_not_match(router, path):
    assert router.match("GET", path) is None


def test_every_route_is_served_under_api_with_an_empty_host_prefix(router):
    """host.json's routePrefix is "" (so pages can live outside /api); each route carries api/."""
    assert route_prefix() == "" and router.prefix == ""
    assert router.routes and all(route.path == f"/{route.template}" for route in router.routes)
    pages = (REPORT_PAGE, AUTHORING_PAGE)
    assert all(route.path.startswith("/api/") for route in router.routes if route.template not in pages)
    assert router.match("GET", "/reports/")[0].name == "reports_page"


class _Trigger:
    def __init__(self, route, methods=None):
        self.route, self.methods, self.name = route, methods, "req"

    def get_binding_name(self):
        return "httpTrigger"


class _Function:
    def __init__(self, name, route, methods=None):
        self.name, self.trigger = name, _Trigger(route, methods)

    def get_trigger(self):
        return self.trigger

    def get_function_name(self):
        return self.name

    def get_user_function(self):
        return lambda req: req


def test_route_prefix_from_host_json(tmp_path):
    host_json = tmp_path / "host.json"
    assert route_prefix(host_json) == "api"  # no host.json: the host's default
    host_json.write_text(json.dumps({"version": "2.0"}))
    assert route_prefix(host_json) == "api"
    host_json.write_text(json.dumps({"extensions": {"http": {"routePrefix": "/v1/"}}}))
    assert route_prefix(host_json) == "v1"
    functions = [_Function("thing", "Things/{id}", ["GET"])]
    router = Router(functions, prefix=route_prefix(host_json))
    route, params = router.match("get", "/V1/things/7/")
    assert route.path == "/v1/Things/{id}" and params == {"id": "7"}
    assert router.match("POST", "/v1/things/7") is None  # methods still restrict
    assert router.match("GET", "/api/things/7") is None


def test_an_unrouted_call_is_the_contracts_404():
    response = Router([], prefix="api").call("GET", "http://localhost/api/nothing", {}, b"")
    assert response.status_code == 404
    assert json.loads(response.get_body())["error"]["code"] == "not_found"
    assert response.headers["Cache-Control"] == "no-store"


# ---- schedules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 5 0 * * *", "2026-11-23T12:00:00", "2026-11-24T00:05:00"),
        ("0 5 0 * * *", "2026-11-23T00:04:59", "2026-11-23T00:05:00"),
        ("0 30 0 * * *", "2026-12-31T23:59:59", "2027-01-01T00:30:00"),
        ("*/15 * * * * *", "2026-11-23T12:00:14", "2026-11-23T12:00:15"),
        ("0 0 9 * * 1-5", "2026-11-21T10:00:00", "2026-11-23T09:00:00"),  # Saturday → Monday
        ("0 0 0 29 2 *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 0 9 * * Mon", "2026-11-23T09:00:00", "2026-11-30T09:00:00"),  # names, strictly after
        ("30 0 6 * * Mon-Fri", "2026-11-27T07:00:00", "2026-11-30T06:00:30"),
        ("0 0 0 1 Jan *", "2026-11-23T00:00:00", "2027-01-01T00:00:00"),
        ("0 0 12 13 * Fri", "2026-01-01T00:00:00", "2026-02-13T12:00:00"),  # day AND weekday
    ],
)
def test_ncrontab(expression, after, expected):
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert next_fire(expression, start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_the_registered_schedules_parse(router):
    start = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert {timer.get_function_name() for timer in router.timers} == {
        "retention_timer",
        "aggregation_timer",
        "funnel_timer",
    }
    for timer in router.timers:
        assert (
            start < next_fire(timer.get_trigger().schedule, start) <= datetime(2026, 11, 24, 12, tzinfo=UTC)
        )


@pytest.mark.parametrize("expression", ["0 5 0 * *", "0 5 0 * * * *", "0 61 0 * * *", "0 0 0 * * Funday", ""])
def test_ncrontab_rejects_invalid_schedules(expression):
    with pytest.raises(ValueError, match="NCRONTAB"):
        next_fire(expression, datetime(2026, 11, 23, tzinfo=UTC))


# ---- static files --------------------------------------------------------------------------------


def test_static_files_serve_the_client_and_its_demo():
    status, headers, body = static_file("/")
    assert status == 200 and dict(headers)["Content-Type"].startswith("text/html")
    assert body == (CLIENT / "demo" / "index.html").read_bytes()
    status, headers, _ = static_file("/client/cetegra-analytics.js")
    assert dict(headers)["Content-Type"] == "text/javascript; charset=utf-8"
    assert dict(headers)["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/api/health",
        "/client/../function_app.py",
        "/client/%2e%2e/README.md",
        "/client/nope.js",
        "/README.md",
    ],
)
def test_static_files_serve_nothing_else(path):
    assert static_file(path) is None


def test_static_files_never_leave_their_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "ok.js").write_text("ok")
    (tmp_path / "secret.js").write_text("secret")
    (tmp_path / "root" / "notes.txt").write_text("not a client file type")
    root = tmp_path / "root"
    assert static_file("/client/ok.js", root)[2] == b"ok"
    assert static_file("/client/../secret.js", root) is None
    assert static_file("/client/notes.txt", root) is None


# ---- Easy Auth stand-in --------------------------------------------------------------------------


def test_session_cookie_becomes_the_principal_header():
    principal = principal_header(user_id="cookie-user")
    headers = emulate_easy_auth({"Cookie": f"theme=dark; {SESSION_COOKIE}={principal}; x=1"})
    claims = json.loads(base64.b64decode(headers["X-MS-CLIENT-PRINCIPAL"]))["claims"]
    assert claims[0]["val"] == "cookie-user"


def test_a_sent_principal_header_is_kept_and_no_cookie_means_none():
    sent = {"x-ms-client-principal": "given", "Cookie": f"{SESSION_COOKIE}=other"}
    assert emulate_easy_auth(sent) == sent
    assert "X-MS-CLIENT-PRINCIPAL" not in emulate_easy_auth({"Cookie": "other=1"})
    assert "X-MS-CLIENT-PRINCIPAL" not in emulate_easy_auth({"Cookie": f"{SESSION_COOKIE}="})
    assert emulate_easy_auth({}) == {}


def test_local_settings_make_the_demo_reader_and_the_local_operator_staff():
    """`make run` lists one staff tenant (STAFF_TENANT_IDS): the demo Reader of `/.auth/login/aad`
    and the ops CLI's `--local-operator` sign in there, so their roles count; the same roles
    claimed from any other tenant are ignored, as in Azure."""
    from shared.kernel.settings import Settings
    from shared.privacy.identity import principal_from_header
    from tools import ops
    from tools.localhost.easyauth import DEMO_READER
    from tools.localhost.server import ROOT

    example = json.loads((ROOT / "local.settings.json.example").read_text())["Values"]
    settings = Settings.from_env({**example, "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true"})
    user, tenant, role = DEMO_READER
    assert settings.staff_tenant_ids == (tenant,)
    assert principal_from_header(principal_header(user, tenant, (role,)), settings).roles == {role}
    assert principal_from_header(ops.local_principal("local-operator"), settings).roles == {ops.OPS_ROLE}
    customer = principal_header(user, "c0ffee00-1111-2222-3333-444455556666", (role, ops.OPS_ROLE))
    assert principal_from_header(customer, settings).roles == frozenset()
