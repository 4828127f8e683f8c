"""The Easy Auth principal (X-MS-CLIENT-PRINCIPAL) exactly as App Service sets it: base64 JSON of
the claims. The one encoder for tests, benchmarks and the ops CLI's local operator."""

from __future__ import annotations

import base64
import json

OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID = "http://schemas.microsoft.com/identity/claims/tenantid"
ROLE_TYP = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
USER_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
TENANT_ID = "c0ffee00-1111-2222-3333-444455556666"
"""A customer's tenant: the default principal's. Analytics roles claimed here are ignored."""
STAFF_TENANT_ID = "ce9a1000-57af-4000-8000-000000000001"
"""Cegal's own (staff) tenant in tests and under `make run` (STAFF_TENANT_IDS): the only tenant
whose analytics roles (Reader, Author, Operator) count; the demo Reader, the ops CLI's local
operator and the tests' role principals sign in here."""
NAME = "alice.example@contoso.com"


def principal_header(
    user_id: str = USER_ID,
    tenant_id: str = TENANT_ID,
    roles: tuple[str, ...] = (),
    name: str | None = NAME,
    long_claims: bool = True,
) -> str:
    """Entra ID sends the object and tenant ids under their long claim URIs (`long_claims`) or,
    with a v2 token and claim mapping, as `oid`/`tid`; roles use the principal's `role_typ`."""
    claims = [
        {"typ": OID if long_claims else "oid", "val": user_id},
        {"typ": TID if long_claims else "tid", "val": tenant_id},
    ]
    if name is not None:
        claims += [{"typ": "name", "val": name}, {"typ": "preferred_username", "val": name}]
    claims += [{"typ": ROLE_TYP, "val": role} for role in roles]
    principal = {"auth_typ": "aad", "name_typ": "name", "role_typ": ROLE_TYP, "claims": claims}
    return base64.b64encode(json.dumps(principal).encode()).decode()
