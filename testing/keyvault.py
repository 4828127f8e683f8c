"""A Key Vault stand-in at the HTTP level, under the real `SecretClient`.

Key Vault has no emulator. Instead of mocking our code, this answers the Key Vault REST API
(`GET {vault}/secrets/{name}[/{version}]?api-version=...`) through a requests adapter mounted in
the SDK's own `RequestsTransport`: the challenge-based bearer auth, retries, deserialisation and
error mapping of azure-keyvault-secrets all run for real.
"""

from __future__ import annotations

import io
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.transport import RequestsTransport
from azure.keyvault.secrets import SecretClient
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

from shared.privacy.pseudonyms import KeyVaultSaltSource

VAULT_URL = "https://cetegra-test.vault.azure.net"
TENANT = "72f988bf-0000-0000-0000-000000000000"


class FakeCredential:
    """Stands in for DefaultAzureCredential (no Entra here); counts token requests."""

    def __init__(self) -> None:
        self.requests = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        self.requests += 1
        return AccessToken("fake-vault-token", int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: object = None) -> AccessTokenInfo:
        self.requests += 1
        return AccessTokenInfo("fake-vault-token", int(time.time()) + 3600)


@dataclass
class FakeKeyVault(HTTPAdapter):
    secret_name: str = "analytics-pseudonym-salt"
    versions: dict[str, str] = field(default_factory=dict)
    latest: str | None = None
    disabled: set[str] = field(default_factory=set)
    down: bool = False
    secret_gets: int = 0
    version_lists: int = 0
    unauthenticated: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def rotate(self, value: str | None = None) -> str:
        """Add a new secret version and make it the current one; returns its version id."""
        version = uuid.uuid4().hex
        self.versions[version] = value or secrets.token_urlsafe(48)
        self.latest = version
        return version

    def salt_source(self) -> KeyVaultSaltSource:
        session = requests.Session()
        session.mount("https://", self)
        transport = RequestsTransport(session=session, session_owner=False)
        return KeyVaultSaltSource.connect(
            VAULT_URL,
            self.secret_name,
            credential=FakeCredential(),
            transport=transport,
            retry_backoff_factor=0.01,
        )

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
        if self.down:
            raise requests.exceptions.ConnectionError("vault unreachable (test)")
        parts = urlsplit(request.url or "")
        if not request.headers.get("Authorization"):
            self.unauthenticated += 1
            return self._reply(
                request,
                401,
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "Request is missing a Bearer or PoP token.",
                    }
                },
                {
                    "WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
                    'resource="https://vault.azure.net"'
                },
            )
        segments = [s for s in parts.path.split("/") if s]
        if segments == ["secrets", self.secret_name, "versions"]:
            self.version_lists += 1
            created = int(time.time()) - len(self.versions)
            return self._reply(
                request,
                200,
                {
                    "value": [
                        {
                            "id": f"{VAULT_URL}/secrets/{self.secret_name}/{version}",
                            "attributes": {
                                "enabled": version not in self.disabled,
                                "created": created + i,
                                "updated": created + i,
                                "recoveryLevel": "Recoverable+Purgeable",
                            },
                            "tags": {},
                        }
                        for i, version in enumerate(self.versions)
                    ],
                    "nextLink": None,
                },
            )
        if len(segments) == 3 and segments[2] in self.disabled:
            return self._reply(
                request,
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Operation get is not allowed on a disabled secret.",
                        "innererror": {"code": "SecretDisabled"},
                    }
                },
            )
        if len(segments) in (2, 3) and segments[0] == "secrets" and segments[1] == self.secret_name:
            self.secret_gets += 1
            version = segments[2] if len(segments) == 3 else self.latest
            if version in self.versions:
                now = int(time.time())
                return self._reply(
                    request,
                    200,
                    {
                        "value": self.versions[version],
                        "id": f"{VAULT_URL}/secrets/{self.secret_name}/{version}",
                        "attributes": {
                            "enabled": True,
                            "created": now,
                            "updated": now,
                            "recoveryLevel": "Recoverable+Purgeable",
                            "recoverableDays": 90,
                        },
                        "tags": {},
                    },
                )
        return self._reply(
            request,
            404,
            {
                "error": {
                    "code": "SecretNotFound",
                    "message": "A secret with (name/id) was not found in this key vault.",
                }
            },
        )

    def _reply(
        self,
        request: requests.PreparedRequest,
        status: int,
        payload: dict[str, object],
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        body = json.dumps(payload).encode()
        raw = HTTPResponse(
            body=io.BytesIO(body),
            status=status,
            preload_content=False,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Content-Length": str(len(body)),
                **(headers or {}),
            },
        )
        return self.build_response(request, raw)

    def close(self) -> None:
        pass


def secret_client_of(source: KeyVaultSaltSource) -> SecretClient:
    return source._client
