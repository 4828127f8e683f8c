"""An in-process client over the registered functions, and what a test stored.

Requests go through the kit's stand-in for the Functions host's routing (`testing.host.Router`,
built from `function_app.app.get_functions()`), so tests exercise exactly the functions that
`make run` and the Functions host serve.
"""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.kernel.settings import Settings
from shared.services import Services
from testing.clock import Clock
from testing.host import Router, encode_response
from testing.keyvault import VAULT_URL, FakeKeyVault
from testing.principal import STAFF_TENANT_ID, principal_header

POLICY = "2026-04"
ORIGIN = "https://workspace.cetegra.example"
_prefixes = itertools.count()


def make_settings(connection_string: str, **overrides: str) -> Settings:
    """Settings over `connection_string` with a table prefix no other test uses."""
    env = {
        "TABLES_CONNECTION_STRING": connection_string,
        "TABLE_PREFIX": f"t{uuid.uuid4().hex[:8]}{next(_prefixes)}",
        "KEY_VAULT_URL": VAULT_URL,
        "POLICY_VERSION": POLICY,
        "CORS_ALLOWED_ORIGINS": ORIGIN,
        "STAFF_TENANT_IDS": STAFF_TENANT_ID,
        # exact mode: the same releases without noise, so tests can compare with a recomputation;
        # the DP tests (tests/test_privacy_releases.py) pass "true"
        "RELEASE_NOISE": "false",
        # surveys asked without a cadence, as on the local host; tests/test_notification_feed.py
        # sets one
        "SURVEY_FIRST_DAY": "1",
        "SURVEY_INTERVAL_DAYS": "0",
        "SURVEY_PAUSE_AFTER_ANSWER_DAYS": "0",
        "SURVEY_PAUSE_AFTER_DISMISS_DAYS": "0",
        **overrides,
    }
    return Settings.from_env({k: v for k, v in env.items() if v is not None})


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
