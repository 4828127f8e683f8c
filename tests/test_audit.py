"""The audit table answers "who did what to whom" without holding anyone's identity.

Every audited call records the actor and what was acted on: the subject of an export or erasure
as a keyed reference (the same keyed hash as the actor's, so one lookup finds a person in either
role), the stable tenant key of a directory change, the item id of an authoring call, the day
range of an aggregation or count. The rows are read from the table itself, and no raw user id,
tenant id, e-mail or name may appear anywhere in them.
"""

from __future__ import annotations

import json

import pytest

from testing.principal import STAFF_TENANT_ID, principal_header
from tests.test_staff_tenant import item_body

USER = "5d0f6a1e-7b2c-4c3d-9e4f-a1b2c3d4e5f6"
TENANT = "0d15ea5e-aaaa-bbbb-cccc-ddddeeeeffff"
EMAIL = "kari.nordmann@contoso.example"
SUBJECT = {"user_id": USER, "tenant_id": TENANT}
OPERATOR_ID = "ops-7c1d-oid"
OPERATOR_MAIL = "ola.operator@cegal.example"
OPS = principal_header(
    user_id=OPERATOR_ID,
    tenant_id=STAFF_TENANT_ID,
    name=OPERATOR_MAIL,
    roles=("Cetegra.Analytics.Operator",),
)
ME = principal_header(user_id=USER, tenant_id=TENANT, name=EMAIL)
RAW = (USER, TENANT, EMAIL, OPERATOR_ID, OPERATOR_MAIL, STAFF_TENANT_ID, "kari", "ola")


def audit_rows(client) -> list[dict]:
    """The audit table as stored, every column of every row."""
    table = client.services.storage.table("audit")
    return list(client.services.storage.scan(table))


def only_row(client) -> dict:
    [row] = audit_rows(client)
    text = json.dumps(row, default=str).lower()
    for raw in RAW:
        assert raw.lower() not in text, f"raw identifier {raw!r} in the audit row"
    return row


def ref(client, tenant_id: str, user_id: str) -> str:
    return client.services.pseudonymizer.current(tenant_id, user_id).audit_ref


@pytest.fixture
def subject(client):
    """A user of a customer tenant with consent and one event."""
    client.put("/api/consent", {"status": "granted", "policy_version": "2026-04"}, principal=ME)
    return client


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/ops/export", SUBJECT), ("/api/ops/erasure", {**SUBJECT, "mode": "delete"})],
)
def test_export_and_erasure_name_whose_data_as_a_keyed_reference(subject, path, body):
    response = subject.post(path, body, principal=OPS)
    assert response.status == 200
    row = only_row(subject)
    assert row["operation"] == f"POST {path}"
    assert row["actor"] == ref(subject, STAFF_TENANT_ID, OPERATOR_ID)
    assert row["target"] == "subject:" + ref(subject, TENANT, USER)


def test_the_subject_reference_ignores_the_case_of_the_ids(subject):
    """`RL-x` and `rl-x` are one person to the pseudonyms: one reference too."""
    upper = {"user_id": USER.upper(), "tenant_id": TENANT.upper()}
    assert subject.post("/api/ops/export", upper, principal=OPS).status == 200
    assert only_row(subject)["target"] == "subject:" + ref(subject, TENANT, USER)


def test_a_tenant_directory_change_names_the_stable_tenant_key(client):
    named = client.put(f"/api/ops/tenants/{TENANT}", {"name": "Contoso"}, principal=OPS)
    assert named.status == 200
    row = only_row(client)
    assert row["target"] == "tenant:" + named.json()["tenant"]
    assert row["target"] == "tenant:" + client.services.tenants.key_of(TENANT)


def test_authoring_calls_name_the_item(client):
    author = principal_header(
        user_id=OPERATOR_ID, tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Author",)
    )
    created = client.post("/api/authoring/items", item_body(client.clock.now), principal=author)
    assert created.status == 201
    item = created.json()["id"]
    patched = client.request(
        "PATCH", f"/api/authoring/items/{item}", json_body={"status": "published"}, principal=author
    )
    assert patched.status == 200
    assert client.get(f"/api/authoring/items/{item}", principal=author).status == 200
    targets = sorted((row["operation"], row["target"]) for row in audit_rows(client))
    assert targets == [
        ("GET /api/authoring/items/{id}", f"item:{item}"),
        ("PATCH /api/authoring/items/{id}", f"item:{item}"),
        ("POST /api/authoring/items", f"item:{item}"),
    ]


def test_a_duplicate_names_the_copy_and_the_item_it_was_copied_from(client):
    """The copy is the target (the item the call made); the item it was copied from is the row's
    `source`, in the same `item:<id>` form, so one query on either column finds both items' history.
    Every other row has an empty source."""
    author = principal_header(
        user_id=OPERATOR_ID, tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Author",)
    )
    original = client.post("/api/authoring/items", item_body(client.clock.now), principal=author).json()["id"]
    copied = client.post(f"/api/authoring/items/{original}/duplicate", {}, principal=author)
    assert copied.status == 201
    copy = copied.json()["id"]
    assert copy != original
    missing = "0" * 32
    assert client.post(f"/api/authoring/items/{missing}/duplicate", {}, principal=author).status == 404
    rows = {(row["operation"], row["status"]): row for row in audit_rows(client)}
    duplicate = rows[("POST /api/authoring/items/{id}/duplicate", 201)]
    assert (duplicate["target"], duplicate["source"]) == (f"item:{copy}", f"item:{original}")
    failed = rows[("POST /api/authoring/items/{id}/duplicate", 404)]
    assert (failed["target"], failed["source"]) == ("", f"item:{missing}")
    assert rows[("POST /api/authoring/items", 201)]["source"] == ""
    text = json.dumps(list(rows.values()), default=str).lower()
    assert not [raw for raw in RAW if raw.lower() in text]
    [record] = [
        r for r in client.services.tables.audit.day(client.clock.now.date()) if r.target == f"item:{copy}"
    ]
    assert record.source == f"item:{original}"


def test_runs_over_days_name_the_days(client):
    ranged = client.post(
        "/api/ops/aggregation/run", {"from": "2026-11-01", "to": "2026-11-20"}, principal=OPS
    )
    assert ranged.status == 200
    assert only_row(client)["target"] == "days:2026-11-01..2026-11-20"


def test_a_denied_call_is_recorded_without_a_target(subject):
    assert subject.post("/api/ops/export", SUBJECT, principal=ME).status == 403
    row = only_row(subject)
    assert row["status"] == 403 and row["target"] == ""
    assert row["actor"] == ref(subject, TENANT, USER)  # the one who tried, as a keyed reference


def test_an_auditor_resolves_a_known_user_to_its_references(subject):
    """`POST /api/ops/audit/reference` (ops CLI `audit-ref`): the keyed reference of a known
    (tenant, user) under every enabled salt version, to search the audit table's actor and
    target columns; audited itself, and it answers with no raw id."""
    assert subject.post("/api/ops/export", SUBJECT, principal=OPS).status == 200
    subject.vault.rotate()
    subject.services.pseudonymizer.refresh()
    resolved = subject.post("/api/ops/audit/reference", SUBJECT, principal=OPS)
    assert resolved.status == 200
    body = resolved.json()
    assert len(body["references"]) == 2
    assert all(set(entry) == {"salt_version", "reference"} for entry in body["references"])
    exported = next(row for row in audit_rows(subject) if row["operation"] == "POST /api/ops/export")
    assert exported["target"] == "subject:" + body["references"][1]["reference"]  # pre-rotation
    text = resolved.body.decode().lower()
    assert USER not in text and TENANT not in text
    lookup = next(row for row in audit_rows(subject) if row["operation"] == "POST /api/ops/audit/reference")
    assert lookup["target"] == "subject:" + body["references"][0]["reference"]
    assert subject.post("/api/ops/audit/reference", SUBJECT, principal=ME).status == 403


@pytest.mark.parametrize(
    "body",
    [{"user_id": USER}, {**SUBJECT, "email": EMAIL}, {"user_id": "", "tenant_id": TENANT}],
)
def test_a_bad_lookup_is_400_and_leaves_only_its_audit_row(client, body):
    response = client.post("/api/ops/audit/reference", body, principal=OPS)
    assert response.status == 400 and response.json()["error"]["code"] in (
        "missing_field",
        "unknown_field",
        "invalid_value",
    )
    assert set(client.stored()) == {client.services.storage.table("audit")}
    row = only_row(client)
    assert row["status"] == 400 and row["target"] == ""
