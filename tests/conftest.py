"""Shared fixtures: one Azurite per session, a fresh table prefix and object graph per test.

Requests go through `tools.localhost.Router`, built once from `function_app.app.get_functions()`,
so tests exercise exactly the registered functions that `make run` and the Functions host serve.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# function_app validates settings at import; these are overridden per test by `install()`.
os.environ.update(
    {
        "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "DEV_SALT_FILE": str(ROOT / ".local" / "test-dev-salt"),
        "POLICY_VERSION": "2026-04",
    }
)
os.environ.pop("KEY_VAULT_URL", None)
os.environ.pop("WEBSITE_SITE_NAME", None)

from shared.services import Services, build, install  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.keyvault import FakeKeyVault  # noqa: E402
from tools.azurite import Azurite  # noqa: E402
from tools.localhost import Router  # noqa: E402

POLICY = "2026-04"
ORIGIN = "https://workspace.cetegra.example"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID = "http://schemas.microsoft.com/identity/claims/tenantid"
ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
_prefixes = itertools.count()


def principal_header(
    user_id: str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    tenant_id: str = "c0ffee00-1111-2222-3333-444455556666",
    roles: tuple[str, ...] = (),
    name: str = "alice.example@contoso.com",
    long_claims: bool = True,
) -> str:
    """An Easy Auth principal exactly as App Service sets it (base64 JSON of the claims)."""
    claims = [
        {"typ": OID if long_claims else "oid", "val": user_id},
        {"typ": TID if long_claims else "tid", "val": tenant_id},
        {"typ": "name", "val": name},
        {"typ": "preferred_username", "val": name},
        *({"typ": ROLE_TYP, "val": role} for role in roles),
    ]
    principal = {"auth_typ": "aad", "name_typ": "name", "role_typ": ROLE_TYP, "claims": claims}
    return base64.b64encode(json.dumps(principal).encode()).decode()


class Clock:
    """Injected time: tests move it explicitly."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Client:
    router: Router
    services: Services
    vault: FakeKeyVault
    clock: Clock
    default_principal: str | None = field(default_factory=principal_header)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        content_type: str | None = "application/json",
        principal: str | bool | None = True,
        headers: dict[str, str] | None = None,
    ) -> Response:
        from tools.localhost import encode_response

        sent: dict[str, str] = {}
        if principal is True:
            principal = self.default_principal
        if isinstance(principal, str):
            sent["X-MS-CLIENT-PRINCIPAL"] = principal
        raw = b""
        if json_body is not None:
            raw = json.dumps(json_body).encode()
        elif body is not None:
            raw = body.encode() if isinstance(body, str) else body
        if (json_body is not None or body is not None) and content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        status, out_headers, out_body = encode_response(
            self.router.call(method, f"http://localhost:7071{path}", sent, raw)
        )
        return Response(status, dict(out_headers), out_body)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, payload: Any = None, **kw: Any) -> Response:
        return self.request("PUT", path, json_body=payload, **kw)

    def post(self, path: str, payload: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, json_body=payload, **kw)

    # ---- what is stored ----------------------------------------------------------------------

    def tables(self) -> list[str]:
        return self.services.storage.list_tables("")

    def stored(self) -> dict[str, list[dict[str, Any]]]:
        return {name: list(self.services.storage.scan(name)) for name in self.tables()}

    def stored_text(self) -> str:
        """Every table name, key and value this test stored, as one searchable string."""
        return json.dumps(self.stored(), default=str)

    def entity_count(self) -> int:
        return sum(len(rows) for rows in self.stored().values())


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    given = os.environ.get("TEST_TABLES_CONNECTION_STRING")
    if given:
        yield given
        return
    with Azurite(("table",)) as emulator:
        yield emulator.connection_string()


@pytest.fixture(scope="session")
def router() -> Router:
    import function_app

    return Router.from_app(function_app.app)  # get_functions() once: it re-validates names per call


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def vault() -> FakeKeyVault:
    fake = FakeKeyVault()
    fake.rotate()
    return fake


def make_settings(connection_string: str, **overrides: str) -> Settings:
    env = {
        "TABLES_CONNECTION_STRING": connection_string,
        "TABLE_PREFIX": f"t{uuid.uuid4().hex[:8]}{next(_prefixes)}",
        "KEY_VAULT_URL": "https://cetegra-test.vault.azure.net",
        "POLICY_VERSION": POLICY,
        "CORS_ALLOWED_ORIGINS": ORIGIN,
        **overrides,
    }
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


@pytest.fixture
def make_client(azurite: str, router: Router, vault: FakeKeyVault, clock: Clock) -> Iterator[Any]:
    def make(**overrides: str) -> Client:
        settings = make_settings(azurite, **overrides)
        services = build(settings, salt_source=vault.salt_source(), clock=clock)
        install(services)
        return Client(router, services, vault, clock)

    yield make
    install(None)


@pytest.fixture
def client(make_client: Any) -> Client:
    return make_client()


@pytest.fixture
def server(client: Client, router: Router) -> Iterator[int]:
    """The local host's HTTP server over the registered functions, on a free loopback port."""
    import threading
    from http.server import ThreadingHTTPServer

    from tools.azurite import free_port
    from tools.localhost import make_handler

    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), make_handler(router, port))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield port
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything any logger writes during the test, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog
