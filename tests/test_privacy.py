"""The privacy promises, checked against what is really stored and logged.

Policy: "We do not use cookies or analytics to store names, email addresses, or other data fields
that directly identify you" and the pseudonym is "not your real user ID". After a scenario that
touches every route, no table name, key or value and no log line holds the raw user id, the
tenant claim, the e-mail-like name, the IP, user agent or referrer that were sent.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from testing.client import ORIGIN, POLICY
from testing.principal import STAFF_TENANT_ID, principal_header

USER = "9d6a1c7e-5b3f-4e2a-8c1d-0f9e8d7c6b5a"
TENANT = "e4b1f0a2-7c3d-4f5e-9a8b-1c2d3e4f5a6b"
EMAIL = "kari.nordmann@equinor-example.com"
IP = "203.0.113.77"
UA = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/9.9"
REFERER = "https://intranet.example/secret-project?id=4711"
HOSTILE = {
    "X-Forwarded-For": IP,
    "X-Client-IP": IP,
    "X-Real-IP": IP,
    "User-Agent": UA,
    "Referer": REFERER,
    "Origin": ORIGIN,
    "Cookie": "AppServiceAuthSession=abcdef123456",
}
ADMIN = "a11ce000-0000-4000-8000-00000000ad01"
ADMIN_SESSION = "5e551010-0000-4000-8000-00000000ad02"
ORDER_ID = "ORD-99887766"
CASE_GUID = "5f0c7d1e-2b3a-4c5d-8e9f-a0b1c2d3e4f5"
HOSTILE_PAGES = [
    f"/users/{EMAIL}/profile",
    f"https://workspace.cetegra.com/catalog/order/{ORDER_ID}?note=urgent+delivery#top",
    f"/cases/{CASE_GUID}/edit?description=printer+on+fire",
    "/search?q=salary+review+2026",
    "/tokens/0123456789abcdef0123456789abcdef",
    f"/users/{USER}",
    "/people/kari-nordmann/profile",
    "/cases/printer-on-fire",
    "/docs/how-to-reset-password-for-kari",
    "/tenants/contoso-as/admin",
    "/secret-project/roadmap-for-kari",
]
HOSTILE_APPS = ["workspace", "ord-99887766", "kari-nordmann", "contoso-as"]
SECRETS = [
    USER, TENANT, EMAIL, "kari.nordmann", IP, UA, "PrivacyProbe", REFERER, "secret-project",
    "abcdef123456", USER.upper(), TENANT.upper(), ORDER_ID, "99887766", CASE_GUID, "urgent",
    "printer", "salary", "0123456789abcdef", "nordmann", "on-fire", "reset-password", "contoso",
    "roadmap", "ord-", "author." + EMAIL,
]  # fmt: skip


def scenario(client):
    principal = principal_header(user_id=USER, tenant_id=TENANT, name=EMAIL, roles=("Cetegra.ITAdmin",))
    assert client.get("/api/consent", principal=principal, headers=HOSTILE).status == 200
    assert (
        client.put(
            "/api/consent",
            {"status": "granted", "policy_version": POLICY},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 200
    )
    assert (
        client.put(
            "/api/consent",
            {"status": "declined", "policy_version": POLICY},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 200
    )
    assert (
        client.put(
            "/api/consent",
            {"status": "granted", "policy_version": POLICY, "email": EMAIL},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 400
    )
    assert client.get("/api/health", headers=HOSTILE).status == 200
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "name": "nav.page_view",
            "session_id": str(uuid.uuid4()),
            "app": HOSTILE_APPS[index % len(HOSTILE_APPS)],
            "page": page,
        }
        for index, page in enumerate(HOSTILE_PAGES)
    ]
    assert (
        client.put(
            "/api/consent",
            {"status": "granted", "policy_version": POLICY},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 200
    )
    assert client.post("/api/events", {"events": events}, principal=principal, headers=HOSTILE).status == 202
    beacon = json.dumps({"events": [{**e, "event_id": str(uuid.uuid4())} for e in events]})
    assert client.request(
        "POST", "/api/events", body=beacon, content_type="text/plain", principal=principal, headers=HOSTILE
    ).json()["accepted"] == len(events)
    rejected = {"events": [{**events[0], "event_id": str(uuid.uuid4()), "note": EMAIL}]}
    assert client.post("/api/events", rejected, principal=principal, headers=HOSTILE).status == 400
    notifications(client, principal)


def notifications(client, principal):
    """An author publishes a notification and a survey; the user sees, answers and dismisses."""
    author = principal_header(
        user_id="author-" + USER,
        tenant_id=STAFF_TENANT_ID,
        name="author." + EMAIL,
        roles=("Cetegra.Analytics.Author",),
    )
    window = {
        "starts_at": (client.clock.now - timedelta(hours=1)).isoformat(),
        "ends_at": (client.clock.now + timedelta(days=7)).isoformat(),
    }
    survey = {"kind": "survey", "title": "Quick question", "question": {"type": "nps", "text": "Recommend?"}}
    note = {"kind": "notification", "title": "New feature", "body": "Saved searches"}
    ids = []
    for fields in (survey, note):
        created = client.post("/api/authoring/items", {**fields, **window}, principal=author, headers=HOSTILE)
        assert created.status == 201
        item_id = created.json()["id"]
        published = client.request(
            "PATCH",
            f"/api/authoring/items/{item_id}",
            json_body={"status": "published"},
            principal=author,
            headers=HOSTILE,
        )
        assert published.status == 200
        ids.append(item_id)
    pending = client.get("/api/notifications?app=workspace", principal=principal, headers=HOSTILE)
    assert {i["id"] for i in pending.json()["items"]} == set(ids)
    answer = {"value": 9, "comment": "works well"}
    for action, item_id, body in (("seen", ids[1], {}), ("answer", ids[0], answer), ("dismiss", ids[1], {})):
        path = f"/api/notifications/{item_id}/{action}"
        assert client.post(path, body, principal=principal, headers=HOSTILE).status == 204
    results = client.get(f"/api/authoring/items/{ids[0]}/results", principal=author, headers=HOSTILE)
    assert results.status == 200


@pytest.fixture(params=["drop", "anonymous"])
def any_mode_client(request, make_client):
    return make_client(DECLINED_MODE=request.param)


def test_no_identifier_in_any_table(any_mode_client):
    client = any_mode_client
    scenario(client)
    assert any("ev" in name for name in client.tables()), "no events stored"
    for table in ("notifystate", "notifyanswers", "notifyitems"):
        assert any(name.endswith(table) for name in client.tables()), f"nothing in {table}"
    stored = client.stored_text()
    assert client.tables(), "the scenario stored nothing, so the scan would prove nothing"
    for secret in SECRETS:
        assert secret.lower() not in stored.lower(), secret


def test_pages_are_minimised(client):
    scenario(client)
    pages = {
        row["page"]
        for name, rows in client.stored().items()
        if "ev2" in name
        for row in rows
        if "name" in row
    }  # rows without a name are consent markers
    assert pages == {
        "/users/{id}/profile",
        "/catalog/order/{id}",
        "/cases/{id}/edit",
        "/search",
        "(unlisted)",  # /tokens/<hex> and /secret-project/...: no template
        "/users/{id}",
        "/people/{id}/profile",
        "/cases/{id}",
        "/docs/{slug}",
        "/tenants/{id}/admin",
    }
    apps = {
        row["app"] for name, rows in client.stored().items() if "ev2" in name for row in rows if "name" in row
    }
    assert apps == {"workspace", "(unlisted)"}


def test_no_identifier_in_any_log_line(any_mode_client, logs):
    client = any_mode_client
    scenario(client)
    assert logs.records, "no log lines captured"
    text = "\n".join(record.getMessage() for record in logs.records)
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret


def test_logger_refuses_personal_fields():
    import logging

    from shared.kernel.logs import log

    with pytest.raises(ValueError, match="user_id"):
        log(logging.getLogger("t"), logging.INFO, "x", user_id="u")


def test_full_lifecycle_leaves_no_identifier_anywhere(make_client, logs, clock):
    """Consent, hostile events, both timers, export and erasure: then every table and log line."""
    client = make_client(DECLINED_MODE="anonymous")
    scenario(client)
    # The only IT admin of a small tenant declines; in anonymous mode their events are kept, but
    # with no pseudonym, session id or user type and the hour only; the unset user's are dropped.
    admin = principal_header(
        user_id=ADMIN, tenant_id=TENANT, name="admin." + EMAIL, roles=("Cetegra.ITAdmin",)
    )
    assert (
        client.put("/api/consent", {"status": "declined", "policy_version": POLICY}, principal=admin).status
        == 200
    )
    declined = [
        {
            "event_id": str(uuid.uuid4()),
            "name": "app.launch",
            "session_id": ADMIN_SESSION,
            "ts": "2026-11-23T11:47:31.250Z",
            "app": app,
            "page": page,
        }
        for app, page in zip(HOSTILE_APPS * 3, HOSTILE_PAGES, strict=False)
    ]
    assert client.post("/api/events", {"events": declined}, principal=admin, headers=HOSTILE).json() == {
        "accepted": len(declined),
        "dropped": 0,
    }
    never_asked = principal_header(user_id="never-asked-" + USER, tenant_id=TENANT, name=EMAIL)
    assert client.post("/api/events", {"events": declined}, principal=never_asked).json()["accepted"] == 0
    anonymous = [
        row
        for name, rows in client.stored().items()
        if "ev2" in name
        for row in rows
        if row["RowKey"] in {e["event_id"] for e in declined}
    ]
    assert len(anonymous) == len(declined)
    for row in anonymous:
        assert not {"pseudonym", "session_id", "user_type"} & set(row)
        assert (row["ts"].minute, row["ts"].second, row["received"].minute) == (0, 0, 0)
    ops = principal_header(
        user_id="ops-" + USER,
        tenant_id=STAFF_TENANT_ID,
        name="ops." + EMAIL,
        roles=("Cetegra.Analytics.Operator",),
    )
    clock.advance(days=2)
    assert client.post("/api/ops/aggregation/run", {}, principal=ops, headers=HOSTILE).status == 200
    daily = [row for name, rows in client.stored().items() if name.endswith("aggdaily") for row in rows]
    assert daily and all(row["user_type"] != "it_admin" for row in daily)  # the lone admin: not singled out
    unlisted = client.post(
        "/api/ops/catalogue/unlisted",
        {"from": "2026-11-23", "to": "2026-11-23"},
        principal=ops,
        headers=HOSTILE,
    )
    assert unlisted.status == 200 and unlisted.json()["days"][0]["unlisted_pages"] > 0
    assert client.post("/api/ops/retention/run", {}, principal=ops, headers=HOSTILE).status == 200
    exported = client.post(
        "/api/ops/export", {"user_id": USER, "tenant_id": TENANT}, principal=ops, headers=HOSTILE
    )
    assert exported.status == 200 and exported.json()["events"]
    erased = client.post(
        "/api/ops/erasure",
        {"user_id": USER, "tenant_id": TENANT, "mode": "unlink"},
        principal=ops,
        headers=HOSTILE,
    )
    assert erased.status == 200 and erased.json()["events_affected"] > 0
    # two state rows, the cadence row and one answer
    assert erased.json()["notification_rows_deleted"] == 4
    after_erasure = client.stored_text().lower()  # unlinked events are still there, anonymous
    assert "ev2" in after_erasure
    clock.advance(days=800)
    assert client.services.retention.run().removed_periods > 0
    after_expiry = client.stored_text().lower()  # aggregates, audit and salt usage outlive raw data
    assert "aggstate" in after_expiry and "audit" in after_expiry  # one person: every cell suppressed (k=5)
    text = "\n".join(record.getMessage() for record in logs.records).lower()
    for secret in [*SECRETS, "ops-" + USER, "ops." + EMAIL, ADMIN, ADMIN_SESSION, "never-asked", ":47:31"]:
        for place in (after_erasure, after_expiry, text):
            assert secret.lower() not in place, secret
