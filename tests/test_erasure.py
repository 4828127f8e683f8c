"""Erasure, export and salt rotation against Azurite, through the ops routes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from shared.ingestion.ingest import keep
from shared.storage.events import MARKER
from testing.client import POLICY
from testing.factories import stored_event
from testing.principal import principal_header
from tests.test_retention import OPS

USER = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
TENANT = "b1946ac9-2492-4a53-a1b2-9f1d2b3c4d5e"
ME = principal_header(user_id=USER, tenant_id=TENANT, name="subject@contoso.com")
SUBJECT = {"user_id": USER, "tenant_id": TENANT}


def send(client, n=3, principal=ME, ts=None):
    ts = ts or client.clock.now
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "name": "app.launch",
            "session_id": str(uuid.uuid4()),
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "app": "workspace",
            "page": "/home",
        }
        for _ in range(n)
    ]
    response = client.post("/api/events", {"events": events}, principal=principal)
    assert response.status == 202 and response.json()["accepted"] == n


def crowd(client, users=1000):
    """1,000 other users' events on the same days, written straight to storage."""
    now = client.clock.now
    keep(
        client.services.tables,
        [
            stored_event(
                now - timedelta(days=u % 3),
                received=now,
                name="nav.page_view",
                page="/x",
                tenant_ref="tother",
                pseudonym=10**12 + u,
                salt_version=client.vault.latest,
            )
            for u in range(users)
        ],
    )


def all_events(client):
    """Every event row (consent markers are not events: tests/test_consent_markers.py)."""
    storage, events = client.services.storage, client.services.tables.events
    return [
        e
        for day in events.days()
        for table in events.tables(day)
        for e in storage.scan(table)
        if e["RowKey"] != MARKER
    ]


def rotate(client):
    version = client.vault.rotate()
    client.services.salts._refresh_at = 0  # the cache lifetime has passed
    return version


@pytest.fixture
def subject(client):
    assert (
        client.put("/api/consent", {"status": "granted", "policy_version": POLICY}, principal=ME).status
        == 200
    )
    send(client, 3)
    send(client, 2, ts=client.clock.now - timedelta(hours=20))
    return client


def mine(client):
    pseudonyms = {p.event_pseudonym for p in client.services.pseudonymizer.every_version(TENANT, USER)}
    return [e for e in all_events(client) if e.get("pseudonym") in pseudonyms]


def test_delete_one_user_among_a_thousand(subject):
    client = subject
    crowd(client)
    assert len(mine(client)) == 5
    response = client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=OPS)
    assert response.status == 200
    body = response.json()
    assert body["events_affected"] == 5 and body["consent_deleted"] is True and len(body["audit_id"]) == 32
    assert mine(client) == []
    assert len(all_events(client)) == 1000  # nobody else lost anything
    assert client.get("/api/consent", principal=ME).json()["status"] == "unset"


def test_unlink_keeps_events_without_the_pseudonym(subject):
    client = subject
    crowd(client)
    response = client.post("/api/ops/erasure", {**SUBJECT, "mode": "unlink"}, principal=OPS)
    assert response.json()["events_affected"] == 5
    assert mine(client) == []
    events = all_events(client)
    assert len(events) == 1005
    anonymous = [e for e in events if "pseudonym" not in e]
    assert len(anonymous) == 5 and all(e["PartitionKey"].startswith("a") for e in anonymous)
    assert len([e for e in events if "pseudonym" in e]) == 1000


def test_erasing_twice_is_harmless_and_unknown_users_get_zeros(subject):
    client = subject
    first = client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=OPS).json()
    second = client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=OPS).json()
    assert first["events_affected"] == 5
    assert (second["events_affected"], second["consent_deleted"]) == (0, False)
    unknown = client.post(
        "/api/ops/erasure", {"user_id": "nobody", "tenant_id": "nowhere", "mode": "unlink"}, principal=OPS
    ).json()
    assert (unknown["events_affected"], unknown["consent_deleted"]) == (0, False)


def test_erasure_across_a_salt_rotation(subject):
    client = subject
    old_version = client.vault.latest
    new_version = rotate(client)
    assert client.get("/api/consent", principal=ME).json()["status"] == "granted"  # consent survived
    send(client, 4)
    stored = mine(client)
    assert {e["salt_version"] for e in stored} == {old_version, new_version}
    assert len(stored) == 9
    result = client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=OPS).json()
    assert result["events_affected"] == 9 and result["consent_deleted"] is True
    assert mine(client) == []


def test_consent_moves_to_the_new_key_after_rotation(subject):
    client = subject
    services = client.services
    old = services.pseudonymizer.current(TENANT, USER)
    rotate(client)
    view = client.get("/api/consent", principal=ME).json()
    assert view["status"] == "granted" and view["reprompt"] is False
    new = services.pseudonymizer.current(TENANT, USER)
    assert new.consent_key != old.consent_key
    assert services.tables.consent.read(old.consent_key) == (None, [])
    record = services.consent.record(new)
    assert record["salt_version"] == new.salt_version
    assert [h["status"] for h in record["history"]] == ["granted"]  # the proof moved with it


def test_export_returns_consent_and_events_as_stored(subject):
    client = subject
    crowd(client, users=50)
    response = client.post("/api/ops/export", SUBJECT, principal=OPS)
    assert response.status == 200
    body = response.json()
    assert body["consent"]["status"] == "granted"
    assert [h["status"] for h in body["consent"]["history"]] == ["granted"]
    assert len(body["events"]) == 5
    pseudonym = client.services.pseudonymizer.current(TENANT, USER).event_pseudonym
    for event in body["events"]:
        assert event["pseudonym"] == pseudonym
        assert event["page"] == "/home" and event["name"] == "app.launch"
        assert set(event) >= {
            "event_id",
            "day",
            "session_id",
            "received",
            "tenant",
            "user_type",
            "salt_version",
        }
    assert USER not in response.body.decode() and TENANT not in response.body.decode()


def test_export_of_unknown_user(client):
    body = client.post("/api/ops/export", {"user_id": "x", "tenant_id": "y"}, principal=OPS).json()
    assert body == {
        "consent": None,
        "events": [],
        "activity": [],
        "first_seen": [],
        "consent_markers": [],
        "notifications": {"state": [], "answers": [], "cadence": []},
    }


@pytest.mark.parametrize("path", ["/api/ops/erasure", "/api/ops/export"])
def test_ops_role_required(subject, path):
    payload = {**SUBJECT, "mode": "delete"} if path.endswith("erasure") else SUBJECT
    assert subject.post(path, payload, principal=ME).status == 403
    assert subject.post(path, payload, principal=None).status == 401
    assert len(mine(subject)) == 5


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (SUBJECT, "missing_field", "mode"),
        ({**SUBJECT, "mode": "shred"}, "invalid_value", "mode"),
        ({**SUBJECT, "mode": "delete", "reason": "x"}, "unknown_field", "reason"),
        ({"user_id": "", "tenant_id": TENANT, "mode": "delete"}, "invalid_value", "user_id"),
        ({"user_id": "a\nb", "tenant_id": TENANT, "mode": "delete"}, "invalid_value", "user_id"),
    ],
)
def test_bad_erasure_requests(subject, payload, code, field):
    response = subject.post("/api/ops/erasure", payload, principal=OPS)
    assert response.status == 400
    assert response.json()["error"]["code"] == code and response.json()["error"]["field"] == field
    assert len(mine(subject)) == 5


def test_audit_records_hold_no_raw_ids(subject):
    client = subject
    client.post("/api/ops/export", SUBJECT, principal=OPS)
    client.post("/api/ops/erasure", {**SUBJECT, "mode": "unlink"}, principal=OPS)
    client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=ME)  # denied, audited too
    records = client.services.tables.audit.day(client.clock.now.date())
    assert sorted((r.operation, r.status) for r in records) == [
        ("POST /api/ops/erasure", 200),
        ("POST /api/ops/erasure", 403),
        ("POST /api/ops/export", 200),
    ]
    erasure = next(r for r in records if r.status == 200 and "erasure" in r.operation)
    assert json.loads(erasure.counts) == {
        "consent_deleted": True,
        "events_affected": 5,
        "notification_rows_deleted": 0,
    }
    text = json.dumps(records, default=str)
    for raw in (USER, TENANT, "subject@contoso.com", "ops-user-oid", "operator@cegal.example"):
        assert raw not in text


def test_retention_reports_salt_versions(subject, clock):
    client = subject
    old_version = client.vault.latest
    rotate(client)
    send(client, 1)
    report = client.services.retention.run()
    assert old_version in report.salt_versions_in_use
    assert report.salt_versions_may_disable == []
    clock.now = clock.now + timedelta(days=366 * 2 + 1)  # every day with old-version data expires
    client.services.salts._refresh_at = 0
    later = client.services.retention.run()
    assert later.salt_versions_in_use == []
    assert later.salt_versions_may_disable == [old_version]


def test_disabled_version_leaves_leftovers_unreachable_but_erasure_still_works(subject):
    client = subject
    old_version = client.vault.latest
    rotate(client)
    send(client, 2)
    client.vault.disabled.add(old_version)
    client.services.salts._listed = None  # the version list is re-read after its cache lifetime
    result = client.post("/api/ops/erasure", {**SUBJECT, "mode": "delete"}, principal=OPS).json()
    assert result["events_affected"] == 2  # only what the enabled version can still find
    leftovers = all_events(client)
    assert len(leftovers) == 5 and {e["salt_version"] for e in leftovers} == {old_version}
    # Nobody can derive their pseudonym any more: the disabled version cannot be read.
    assert old_version not in client.services.salts.versions()


@pytest.mark.parametrize("mode", ["delete", "unlink"])
def test_a_day_of_the_earlier_one_table_layout_is_read_erased_and_expired(subject, mode):
    """Days written before a day was split into eight tables (`ev<YYYYMMDD>`) stay visible to
    every reader, export leaves them as they are, the data subject's rows in them are erased or
    unlinked, and they expire like the rest."""
    from datetime import date

    from shared.storage.core import period_key
    from shared.storage.events import EventStore, entity_of

    client = subject
    storage, events = client.services.storage, client.services.tables.events
    day = client.clock.now.date() - timedelta(days=2)
    legacy = storage.table(f"ev{period_key('daily', day)}")
    me = client.services.pseudonymizer.every_version(TENANT, USER)[-1].event_pseudonym
    moment = client.clock.now - timedelta(days=2)
    for pseudonym, count in ((me, 4), (10**12 + 1, 3), (10**12 + 2, 2)):
        rows = [
            entity_of(stored_event(moment, pseudonym=pseudonym, salt_version=client.vault.latest))
            for _ in range(count)
        ]
        storage.write_partition(legacy, rows, upsert=True)
    assert len(EventStore(storage).user_events(day, me)) == 4  # never listed: the old table is read too
    assert day in events.days() and legacy in events.tables(day)
    assert sum(1 for _ in events.facts(day)) == 9  # the aggregation reads it
    assert len(mine(client)) == 5 + 4
    exported = client.post("/api/ops/export", SUBJECT, principal=OPS).json()
    assert len(exported["events"]) == 9
    assert sum(1 for e in storage.scan(legacy) if e["pseudonym"] == me) == 4  # export only reads

    response = client.post("/api/ops/erasure", {**SUBJECT, "mode": mode}, principal=OPS)
    assert response.json()["events_affected"] == 9
    assert mine(client) == []
    assert sorted(e["pseudonym"] for e in storage.scan(legacy)) == [10**12 + 1] * 3 + [10**12 + 2] * 2
    kept = [e for e in all_events(client) if "pseudonym" not in e]
    assert len(kept) == (9 if mode == "unlink" else 0)  # unlinked rows: anonymous, in the new tables

    old = date(2020, 1, 1)
    storage.write_partition(
        storage.table(f"ev{period_key('daily', old)}"),
        [entity_of(stored_event(client.clock.now.replace(year=2020, month=1, day=1), pseudonym=5))],
        upsert=True,
    )
    assert old in events.days()
    assert client.post("/api/ops/retention/run", {}, principal=OPS).json()["removed_days"] == ["2020-01-01"]
    assert old not in events.days() and storage.table("ev20200101") not in client.tables()
