"""Multi-tenant sign-in: customers' own tenants, the allowed-tenant list, and B2B guests.

Decision (shared/privacy/identity.py): a guest is counted under the tenant they signed in to — the
resource tenant in the token's `tid` — never under their home tenant, which Easy Auth only shows
in the `idp`/`iss` claims and which is neither read nor stored.
"""

from __future__ import annotations

import base64
import json

import pytest

from shared.kernel.errors import Forbidden
from shared.kernel.settings import Settings
from shared.privacy.identity import principal_from_header
from testing.client import POLICY
from testing.principal import OID, ROLE_TYP, TID, principal_header

HOME = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the guest's home tenant
RESOURCE = "c0ffee00-1111-2222-3333-444455556666"  # the customer tenant whose Workspace they use
OTHER = "0d15ea5e-aaaa-bbbb-cccc-ddddeeeeffff"
GUEST_OID = "8e7d6c5b-4a39-4281-9706-f5e4d3c2b1a0"  # the guest object in the resource tenant


def guest_header(tenant: str = RESOURCE, oid: str = GUEST_OID, roles: tuple[str, ...] = ()) -> str:
    """A B2B guest as Easy Auth passes it on: `tid` is the resource tenant, the home tenant shows
    in `idp` and `iss`, the UPN carries the `#EXT#` marker."""
    claims = [
        {"typ": OID, "val": oid},
        {"typ": TID, "val": tenant},
        {
            "typ": "http://schemas.microsoft.com/identity/claims/identityprovider",
            "val": f"https://sts.windows.net/{HOME}/",
        },
        {"typ": "iss", "val": f"https://login.microsoftonline.com/{tenant}/v2.0"},
        {"typ": "acct", "val": "1"},
        {"typ": "name", "val": "Kari Nordmann (Guest)"},
        {"typ": "preferred_username", "val": "kari_fabrikam.example#EXT#@contoso.onmicrosoft.com"},
        *({"typ": ROLE_TYP, "val": role} for role in roles),
    ]
    principal = {"auth_typ": "aad", "name_typ": "name", "role_typ": ROLE_TYP, "claims": claims}
    return base64.b64encode(json.dumps(principal).encode()).decode()


def settings(**extra: str) -> Settings:
    return Settings.from_env(
        {"TABLES_CONNECTION_STRING": "x", "DEV_SALT_FILE": "/tmp/unused", "POLICY_VERSION": POLICY, **extra}
    )


def test_guest_is_counted_under_the_resource_tenant():
    principal = principal_from_header(guest_header(roles=("Cetegra.AdvancedUser",)), settings())
    assert principal.tenant_id == RESOURCE and principal.tenant_id != HOME
    assert principal.user_id == GUEST_OID
    assert principal.user_type == "advanced_user"  # roles come from the resource tenant's assignment


def test_a_later_home_tenant_claim_never_overrides_the_resource_tenant():
    """The first configured tenant claim (the mapped `tid`) wins over any later `tid`-like claim."""
    raw = json.loads(base64.b64decode(guest_header()))
    raw["claims"].append({"typ": "tid", "val": HOME})
    header = base64.b64encode(json.dumps(raw).encode()).decode()
    assert principal_from_header(header, settings()).tenant_id == RESOURCE


def test_allowed_tenants_let_listed_tenants_and_their_guests_in():
    allowed = settings(ALLOWED_TENANT_IDS=f"{RESOURCE.upper()}, {OTHER}")
    assert principal_from_header(guest_header(), allowed).tenant_id == RESOURCE
    assert principal_from_header(principal_header(tenant_id=OTHER), allowed).tenant_id == OTHER


def test_unlisted_tenant_is_403_even_for_a_guest_whose_home_is_listed():
    allowed = settings(ALLOWED_TENANT_IDS=HOME)  # only the home tenant is a customer
    with pytest.raises(Forbidden) as refused:
        principal_from_header(guest_header(), allowed)  # signs in to RESOURCE: not listed
    assert refused.value.code == "tenant_not_allowed"
    assert principal_from_header(guest_header(tenant=HOME, oid="home-oid"), allowed).tenant_id == HOME


def test_allowed_tenant_ids_must_be_guids():
    from shared.kernel.settings import SettingsError

    with pytest.raises(SettingsError, match="ALLOWED_TENANT_IDS"):
        settings(ALLOWED_TENANT_IDS="contoso.onmicrosoft.com")


def test_guest_and_home_identity_are_separate_people(client):
    """The same person as a guest in a customer tenant and as a member at home: two (oid, tid)
    pairs, two consent records, two pseudonyms; neither reveals the other."""
    guest = guest_header()
    home = guest_header(tenant=HOME, oid="1b2c3d4e-0000-4000-8000-000000000001")
    grant = {"status": "granted", "policy_version": POLICY}
    assert client.put("/api/consent", grant, principal=guest).status == 200
    assert client.get("/api/consent", principal=home).json()["status"] == "unset"
    ours = client.services.pseudonymizer.current(RESOURCE, GUEST_OID)
    theirs = client.services.pseudonymizer.current(HOME, "1b2c3d4e-0000-4000-8000-000000000001")
    assert ours.tenant_ref != theirs.tenant_ref and ours.event_pseudonym != theirs.event_pseudonym
    stored = client.stored_text().lower()
    assert HOME not in stored and RESOURCE not in stored and "#ext#" not in stored


def test_api_answers_403_for_a_tenant_outside_the_list(make_client):
    client = make_client(ALLOWED_TENANT_IDS=OTHER)
    response = client.get("/api/consent", principal=guest_header())
    assert response.status == 403
    assert response.json()["error"]["code"] == "tenant_not_allowed"
    assert client.get("/api/consent", principal=principal_header(tenant_id=OTHER)).status == 200
