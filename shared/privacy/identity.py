"""Who is calling, decided by the server from the authenticated principal only.

App Service Authentication ("Easy Auth") validates the Entra token, strips any client-sent
`X-MS-CLIENT-PRINCIPAL` and sets its own. No request body ever names a user, tenant or user type:
this module is the only source of them. Nothing here logs or echoes the header's content.

Tenants: the app registration is multi-tenant, so users of every Cetegra customer sign in with
their own Entra tenant; only the tenants listed in `ALLOWED_TENANT_IDS` (and, in Azure, in the
platform's WEBSITE_AUTH_AAD_ALLOWED_TENANTS) get in. A B2B guest is counted under the tenant they
signed in to (the resource tenant: the token's `tid`, whose Workspace they use), never under their
home tenant: the guest's `oid` is the guest object in the resource tenant, and the home tenant
(`idp`/`iss` claims) is neither read nor stored. The same person using their home tenant's
Workspace is a different (user, tenant) pair there, so a different pseudonym and consent record.

Roles: the analytics roles (Reader, Author, Operator) are Cegal's staff roles. Each customer
tenant's admins assign the multi-tenant app's roles in their own tenant, so such a claim from a
customer tenant says only what that customer chose; it would let a customer's admin export or erase
another customer's users, rename their tenants, publish to them or read every customer's reports.
The policy says analytics data "is used only by Cegal": the analytics roles therefore count only in
the tenants of `STAFF_TENANT_IDS` and are dropped from every other principal when it is parsed, so
no route can honour them by mistake. The user-type roles (`ROLE_USER_TYPES`) describe a user
inside their own tenant and count in every tenant.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Literal

from shared.kernel.errors import Forbidden, Unauthenticated
from shared.kernel.settings import Settings

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


RoleKind = Literal["reader", "author"]
"""The analytics roles beside the operator's; their names are app settings (READER_ROLE, AUTHOR_ROLE)."""


def role_name(kind: RoleKind, settings: Settings) -> str:
    return settings.reader_role if kind == "reader" else settings.author_role


def role_names(kinds: tuple[RoleKind, ...], settings: Settings) -> str:
    return ", ".join(role_name(kind, settings) for kind in kinds)


def may(principal: Principal, kinds: tuple[RoleKind, ...], settings: Settings) -> bool:
    """The one role rule: any of the roles named by `kinds`, or the operator role, which may
    everything an analytics role may."""
    if principal.has_role(settings.ops_role):
        return True
    return any(principal.has_role(role_name(kind, settings)) for kind in kinds)


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
    if settings.allowed_tenant_ids and tenant_id.lower() not in settings.allowed_tenant_ids:
        raise Forbidden("this tenant is not enabled for Cetegra Analytics", code="tenant_not_allowed")
    user_type = user_type_for(roles, settings)
    if tenant_id.lower() not in settings.staff_tenant_ids:
        roles -= {settings.reader_role, settings.author_role, settings.ops_role}
    return Principal(user_id=user_id, tenant_id=tenant_id, roles=frozenset(roles), user_type=user_type)


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
