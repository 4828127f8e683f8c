"""Analytics roles count only in Cegal's staff tenant (STAFF_TENANT_IDS).

The app registration is multi-tenant, and every customer tenant's admins assign its app roles in
their own tenant. So a `Cetegra.Analytics.Operator`, `Author` or `Reader` claim from a customer
tenant says only what that customer's admin chose: it must open no ops, authoring or report route.
The user-type roles (`Cetegra.ITAdmin`, ...) describe the user inside their own tenant and still
count there.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import function_app  # noqa: F401  (registers every endpoint)
from functions.edge import ENDPOINTS
from shared.privacy.identity import principal_from_header, role_name
from testing.client import make_settings
from testing.principal import STAFF_TENANT_ID, TENANT_ID, principal_header

OPERATOR = "Cetegra.Analytics.Operator"
AUTHOR = "Cetegra.Analytics.Author"
READER = "Cetegra.Analytics.Reader"
ANALYTICS_ROLES = (OPERATOR, AUTHOR, READER)
CUSTOMER_A = TENANT_ID
CUSTOMER_B = "bbbb0000-1111-2222-3333-444455556666"
SUBJECT = {"user_id": "subject-oid", "tenant_id": CUSTOMER_A}
NO_ITEM = "0" * 32


def staff(*roles: str) -> str:
    return principal_header(user_id="cegal-staff", tenant_id=STAFF_TENANT_ID, roles=roles)


def customer(*roles: str, tenant: str = CUSTOMER_B) -> str:
    """A customer's user to whom that customer's own admin assigned the roles."""
    return principal_header(user_id="customer-admin", tenant_id=tenant, roles=roles)


def item_body(now) -> dict[str, str]:
    return {
        "kind": "notification",
        "title": "Planned maintenance",
        "body": "Cetegra Workspace is read-only on Sunday morning.",
        "starts_at": (now - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "ends_at": (now + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
    }


# Every role-protected operation, with a request a staff member of that role gets through with.
# The first test fails when a route with a role is added without an entry here.
REQUESTS: dict[tuple[str, str], tuple[str, object]] = {
    ("POST", "/api/ops/retention/run"): ("/api/ops/retention/run", {}),
    ("POST", "/api/ops/aggregation/run"): ("/api/ops/aggregation/run", {}),
    ("POST", "/api/ops/erasure"): ("/api/ops/erasure", {**SUBJECT, "mode": "delete"}),
    ("POST", "/api/ops/export"): ("/api/ops/export", SUBJECT),
    ("POST", "/api/ops/audit/reference"): ("/api/ops/audit/reference", SUBJECT),
    ("POST", "/api/ops/catalogue/unlisted"): (
        "/api/ops/catalogue/unlisted",
        {"from": "2026-11-01", "to": "2026-11-23"},
    ),
    ("PUT", "/api/ops/tenants/{tenant_id}"): (f"/api/ops/tenants/{CUSTOMER_A}", {"name": "Contoso"}),
    ("GET", "/api/authoring/items"): ("/api/authoring/items", None),
    ("POST", "/api/authoring/items"): ("/api/authoring/items", "item"),
    ("GET", "/api/authoring/items/{id}"): (f"/api/authoring/items/{NO_ITEM}", None),
    ("PATCH", "/api/authoring/items/{id}"): (f"/api/authoring/items/{NO_ITEM}", {"status": "archived"}),
    ("GET", "/api/authoring/items/{id}/results"): (f"/api/authoring/items/{NO_ITEM}/results", None),
    ("GET", "/api/authoring/items/{id}/reach"): (f"/api/authoring/items/{NO_ITEM}/reach", None),
    ("POST", "/api/authoring/items/{id}/duplicate"): (f"/api/authoring/items/{NO_ITEM}/duplicate", {}),
    ("GET", "/api/authoring/reach"): ("/api/authoring/reach", None),
    ("GET", "/api/authoring/settings"): ("/api/authoring/settings", None),
    ("GET", "/api/authoring/tenants"): ("/api/authoring/tenants", None),
    ("GET", "/api/reports/tenants"): ("/api/reports/tenants", None),
    ("GET", "/api/reports/active-users"): ("/api/reports/active-users", None),
    ("GET", "/api/reports/features"): ("/api/reports/features", None),
    ("GET", "/api/reports/retention"): ("/api/reports/retention", None),
    ("GET", "/api/reports/onboarding"): ("/api/reports/onboarding?tenant=k0000000000000000", None),
    ("GET", "/api/reports/launch"): ("/api/reports/launch?feature=x&date=2026-10-12", None),
    ("GET", "/api/reports/surveys"): ("/api/reports/surveys", None),
    ("GET", "/api/reports/funnels"): ("/api/reports/funnels", None),
    ("GET", "/api/reports/tenant-table"): ("/api/reports/tenant-table", None),
    ("GET", "/api/reports/coverage"): ("/api/reports/coverage", None),
    ("GET", "/api/reports/markers"): ("/api/reports/markers", None),
    ("GET", "/api/reports/status"): ("/api/reports/status", None),
    ("POST", "/api/markers"): ("/api/markers", {"date": "2026-10-12", "text": "Case templates"}),
    ("DELETE", "/api/markers/{id}"): ("/api/markers/m20261012deadbeef", {}),
}


def protected() -> list[tuple[str, str, str]]:
    """(method, route, role) for every operation that needs a role, and every role that may."""
    settings = make_settings("UseDevelopmentStorage=true")
    cases = []
    for endpoint in ENDPOINTS.values():
        for method, op in endpoint.operations.items():
            if op.auth == "ops" or op.roles:
                roles = {settings.ops_role, *(role_name(kind, settings) for kind in op.roles)}
                cases += [(method, endpoint.path, role) for role in sorted(roles)]
    return cases


CASES = protected()


def test_the_matrix_covers_every_role_protected_route():
    assert {(method, path) for method, path, _ in CASES} == set(REQUESTS)


def send(client, method: str, route: str, principal: str):
    path, body = REQUESTS[(method, route)]
    if body == "item":
        body = item_body(client.clock.now)
    return client.request(method, path, json_body=body, principal=principal)


@pytest.mark.parametrize(("method", "route", "role"), CASES)
def test_a_customer_tenants_analytics_role_is_ignored(client, method, route, role):
    response = send(client, method, route, customer(role))
    assert response.status == 403, response.body
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "route", "role"), CASES)
def test_the_same_role_in_the_staff_tenant_gets_through(client, method, route, role):
    response = send(client, method, route, staff(role))
    assert response.status not in (401, 403), response.body
    assert response.status < 500, response.body


def test_a_customer_operator_cannot_export_or_rename_another_customer(client):
    """Tenant B's self-made operator: no export of A's user, no renaming A in the directory."""
    assert client.put("/api/consent", {"status": "granted", "policy_version": "2026-04"}).status == 200
    exported = client.post(
        "/api/ops/export",
        {"user_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "tenant_id": CUSTOMER_A},
        principal=customer(OPERATOR),
    )
    assert exported.status == 403 and "consent" not in exported.json()
    renamed = client.put(f"/api/ops/tenants/{CUSTOMER_A}", {"name": "Pwned"}, principal=customer(OPERATOR))
    assert renamed.status == 403
    erased = client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=customer(OPERATOR))
    assert erased.status == 403
    directory = client.get("/api/reports/tenants", principal=staff(READER)).json()["tenants"]
    assert all(entry["name"] != "Pwned" for entry in directory)
    assert client.get("/api/consent").json()["status"] == "granted"  # nothing erased


def test_a_customer_author_cannot_publish_to_other_customers(client):
    created = client.post("/api/authoring/items", item_body(client.clock.now), principal=customer(AUTHOR))
    assert created.status == 403
    assert client.get("/api/authoring/items", principal=staff(AUTHOR)).json()["items"] == []
    assert client.get("/api/notifications").json()["items"] == []


def test_a_customer_reader_cannot_list_the_customer_directory(client):
    assert (
        client.put(f"/api/ops/tenants/{CUSTOMER_A}", {"name": "Contoso"}, principal=staff(OPERATOR)).status
        == 200
    )
    listed = client.get("/api/reports/tenants", principal=customer(READER))
    assert listed.status == 403 and b"Contoso" not in listed.body


def test_parse_drops_analytics_roles_outside_the_staff_tenant_and_keeps_user_types():
    settings = make_settings("UseDevelopmentStorage=true")
    header = customer(*ANALYTICS_ROLES, "Cetegra.ITAdmin")
    parsed = principal_from_header(header, settings)
    assert parsed.roles == frozenset({"Cetegra.ITAdmin"})
    assert parsed.user_type == "it_admin"
    ours = principal_from_header(staff(*ANALYTICS_ROLES), settings)
    assert ours.roles == frozenset(ANALYTICS_ROLES)


def test_the_staff_tenant_id_matches_in_any_case():
    settings = make_settings("UseDevelopmentStorage=true")
    upper = principal_header(tenant_id=STAFF_TENANT_ID.upper(), roles=(READER,))
    assert principal_from_header(upper, settings).roles == frozenset({READER})


def test_without_staff_tenants_no_analytics_role_counts():
    """Fail closed: an empty list makes nobody staff (Azure refuses to start without it)."""
    settings = make_settings("UseDevelopmentStorage=true", STAFF_TENANT_IDS=None)  # type: ignore[arg-type]
    assert principal_from_header(staff(OPERATOR), settings).roles == frozenset()
