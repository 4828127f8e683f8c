"""Who is calling, decided by the server from the authenticated principal only.

App Service Authentication ("Easy Auth") validates the Entra token, strips any client-sent
`X-MS-CLIENT-PRINCIPAL` and sets its own. No request body ever names a user, tenant or user type:
this module is the only source of them. Nothing here logs or echoes the header's content.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from shared.errors import Unauthenticated
from shared.settings import Settings

PRINCIPAL_HEADER = "x-ms-client-principal"
MAX_PRINCIPAL_BYTES = 16 * 1024
"""Easy Auth principals are a few KiB at most; anything larger is not one."""


@dataclass(frozen=True)
class Principal:
    """The caller. `user_id`/`tenant_id` are raw claim values: use them only to derive pseudonyms."""

    user_id: str = field(repr=False)
    tenant_id: str = field(repr=False)
    roles: frozenset[str] = field(repr=False)
    user_type: str

    def has_role(self, role: str) -> bool:
        return role in self.roles


def principal_from_header(value: str | None, settings: Settings) -> Principal:
    """Parse the Easy Auth header; any defect is 401 without saying what the header held."""
    if not value:
        raise Unauthenticated("authentication required: no client principal")
    if len(value) > MAX_PRINCIPAL_BYTES:
        raise Unauthenticated("client principal is malformed", code="invalid_principal")
    try:
        decoded = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise Unauthenticated("client principal is malformed", code="invalid_principal") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("claims"), list):
        raise Unauthenticated("client principal has no claims", code="invalid_principal")

    role_typ = decoded.get("role_typ") or "roles"
    claims: dict[str, str] = {}
    roles: set[str] = set()
    for claim in decoded["claims"]:
        if not isinstance(claim, dict):
            raise Unauthenticated("client principal is malformed", code="invalid_principal")
        typ, val = claim.get("typ"), claim.get("val")
        if not isinstance(typ, str) or not isinstance(val, str):
            raise Unauthenticated("client principal is malformed", code="invalid_principal")
        if typ == role_typ:
            roles.add(val)
        claims.setdefault(typ, val)

    user_id = _first(claims, settings.user_id_claims)
    tenant_id = _first(claims, settings.tenant_id_claims)
    if not user_id or not tenant_id:
        raise Unauthenticated(
            "client principal lacks a user id or tenant id claim", code="incomplete_principal"
        )
    return Principal(
        user_id=user_id,
        tenant_id=tenant_id,
        roles=frozenset(roles),
        user_type=user_type_for(roles, settings),
    )


def user_type_for(roles: set[str] | frozenset[str], settings: Settings) -> str:
    """Highest mapped role wins; anything else is a basic user (contract: "highest wins")."""
    for role, user_type in settings.role_user_types:
        if role in roles:
            return user_type
    return "basic_user"


def _first(claims: dict[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = claims.get(name, "").strip()
        if value:
            return value
    return None
