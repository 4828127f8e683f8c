"""POST /api/events against Azurite: schema, limits, consent modes, idempotency, time window."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from shared.storage.events import MARKER, event_partition
from testing.client import ORIGIN, POLICY
from testing.principal import STAFF_TENANT_ID, TENANT_ID, principal_header

SESSION = str(uuid.uuid4())


def event(**fields):
    base = {
        "event_id": str(uuid.uuid4()),
        "name": "nav.page_view",
        "session_id": SESSION,
        "ts": "2026-11-23T11:59:00Z",
        "app": "workspace",
        "page": "/cases",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def batch(n=1, **fields):
    return {"events": [event(**fields) for _ in range(n)]}


def grant(client, principal=True):
    assert (
        client.put(
            "/api/consent", {"status": "granted", "policy_version": POLICY}, principal=principal
        ).status
        == 200
    )


def decline(client, principal=True):
    assert (
        client.put(
            "/api/consent", {"status": "declined", "policy_version": POLICY}, principal=principal
        ).status
        == 200
    )


def stored_events(client):
    """The event rows of the day tables (each user's consent marker is not an event)."""
    return [
        row
        for name, rows in client.stored().items()
        if "ev2" in name
        for row in rows
        if row["RowKey"] != MARKER
    ]


# ---- consent ----------------------------------------------------------------------------------


def test_granted_events_carry_pseudonym_and_salt_version(client):
    grant(client)
    response = client.post("/api/events", batch(3))
    assert response.status == 202
    assert response.json() == {"accepted": 3, "dropped": 0}
    rows = stored_events(client)
    assert len(rows) == 3
    pseudonyms = client.services.pseudonymizer.current(
        "c0ffee00-1111-2222-3333-444455556666", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    )
    for row in rows:
        assert row["pseudonym"] == pseudonyms.event_pseudonym  # Int64 round trip, above 2^31
        assert row["salt_version"] == client.vault.latest
        assert row["tenant"] == pseudonyms.tenant_ref
        assert row["user_type"] == "basic_user"
        assert row["PartitionKey"] == f"u{pseudonyms.event_pseudonym:016x}"
        assert row["received"].isoformat() == "2026-11-23T12:00:00+00:00"
    assert {r["name"] for r in rows} == {"nav.page_view"}


@pytest.mark.parametrize("consent", ["unset", "declined"])
def test_not_granted_is_dropped_by_default(client, consent):
    if consent == "declined":
        decline(client)
    before = client.entity_count()
    response = client.post("/api/events", batch(4))
    assert response.status == 202
    assert response.json() == {"accepted": 0, "dropped": 4}
    assert client.entity_count() == before
    assert stored_events(client) == []


def test_unset_is_never_collected_even_in_anonymous_mode(make_client):
    """ "Analytics are never enabled by default": a user who was never asked said neither yes nor
    no, so not even an anonymous row is kept."""
    client = make_client(DECLINED_MODE="anonymous")
    before = client.entity_count()
    response = client.post("/api/events", batch(3))
    assert response.json() == {"accepted": 0, "dropped": 3}
    assert client.entity_count() == before and stored_events(client) == []


def test_declined_is_anonymous_when_configured(make_client):
    client = make_client(DECLINED_MODE="anonymous")
    admin = principal_header(roles=("Cetegra.ITAdmin",))
    decline(client, admin)
    body = batch(2, ts="2026-11-23T11:59:58.123Z")
    response = client.post("/api/events", body, principal=admin)
    assert response.json() == {"accepted": 2, "dropped": 0}
    rows = stored_events(client)
    assert len(rows) == 2
    for row in rows:
        # no user identifier, no session id, no user type: nothing links or singles out
        assert not {"pseudonym", "session_id", "user_type"} & set(row)
        assert row["PartitionKey"].startswith("a")
        assert row["ts"].isoformat() == "2026-11-23T11:00:00+00:00"  # the hour only
        assert row["received"].isoformat() == "2026-11-23T12:00:00+00:00"
        assert row["page"] == "/cases" and row["app"] == "workspace"
    assert SESSION not in client.stored_text()
    # a re-send (e.g. after a navigation) lands on the same rows: exactly once
    assert client.post("/api/events", body, principal=admin).json()["accepted"] == 2
    assert len(stored_events(client)) == 2


def test_withdrawn_then_sent_stores_nothing_identifiable(client):
    grant(client)
    assert client.post("/api/events", batch(2)).json()["accepted"] == 2
    decline(client)
    assert client.post("/api/events", batch(5)).json() == {"accepted": 0, "dropped": 5}
    assert len(stored_events(client)) == 2


def test_withdrawal_takes_effect_on_the_very_next_request(client):
    """No consent cache: a decision made a millisecond ago already governs."""
    grant(client)
    client.post("/api/events", batch(1))
    decline(client)
    assert client.post("/api/events", batch(1)).json()["dropped"] == 1


def test_identity_comes_only_from_the_principal(client):
    grant(client)
    other = principal_header(user_id="someone-else")
    assert client.post("/api/events", batch(1), principal=other).json() == {"accepted": 0, "dropped": 1}


def test_user_type_from_roles(client):
    admin = principal_header(roles=("Cetegra.AdvancedUser", "Cetegra.ITAdmin"))
    grant(client, admin)
    client.post("/api/events", batch(1), principal=admin)
    assert stored_events(client)[0]["user_type"] == "it_admin"


# ---- idempotency ------------------------------------------------------------------------------


def test_resent_batch_is_not_stored_twice(client):
    grant(client)
    body = batch(10)
    assert client.post("/api/events", body).json()["accepted"] == 10
    assert client.post("/api/events", body).json()["accepted"] == 10
    assert len(stored_events(client)) == 10


def test_duplicate_id_within_a_batch_is_400(client):
    grant(client)
    one = event()
    response = client.post("/api/events", {"events": [one, {**one, "name": "app.launch"}]})
    assert response.status == 400
    assert response.json()["error"]["code"] == "duplicate_event_id"
    assert stored_events(client) == []


# ---- content types and limits -----------------------------------------------------------------


def test_text_plain_beacon_body_is_accepted(client):
    grant(client)
    response = client.request(
        "POST", "/api/events", body=json.dumps(batch(2)), content_type="text/plain;charset=UTF-8"
    )
    assert response.status == 202 and response.json()["accepted"] == 2


def test_hundred_events_is_one_batch(client):
    grant(client)
    assert client.post("/api/events", batch(100, page=None)).json()["accepted"] == 100
    assert len(stored_events(client)) == 100


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        pytest.param({"events": []}, 400, "invalid_value", "events", id="empty"),
        pytest.param(
            batch(101, page=None, app=None, ts=None), 400, "invalid_value", "events", id="101-events"
        ),
        pytest.param(
            {"events": [event()], "user_id": "x"}, 400, "unknown_field", "user_id", id="top-unknown"
        ),
        pytest.param(
            {"events": [event(referrer="https://x")]},
            400,
            "unknown_field",
            "events[0].referrer",
            id="referrer",
        ),
        pytest.param(
            {"events": [event(text="free text")]}, 400, "unknown_field", "events[0].text", id="free-text"
        ),
        pytest.param(
            {"events": [event(pseudonym=5)]}, 400, "unknown_field", "events[0].pseudonym", id="pseudonym"
        ),
        pytest.param(
            {"events": [event(), event(event_id="nope")]},
            400,
            "invalid_value",
            "events[1].event_id",
            id="bad-id",
        ),
        pytest.param(
            {"events": [event(session_id=123)]},
            400,
            "invalid_value",
            "events[0].session_id",
            id="bad-session",
        ),
        pytest.param(
            {"events": [event(name="form.content")]},
            400,
            "unknown_event_name",
            "events[0].name",
            id="unknown-name",
        ),
        pytest.param(
            {"events": [event(name=None)]}, 400, "missing_field", "events[0].name", id="missing-name"
        ),
        pytest.param({"events": [event(ts="yesterday")]}, 400, "invalid_value", "events[0].ts", id="bad-ts"),
        pytest.param(
            {"events": [event(ts="2026-11-23T11:59:00")]},
            400,
            "naive_timestamp",
            "events[0].ts",
            id="naive-ts",
        ),
        pytest.param(
            {"events": [event(ts="2026-11-22T11:59:00Z")]},
            400,
            "event_time_out_of_window",
            "events[0].ts",
            id="too-old",
        ),
        pytest.param(
            {"events": [event(ts="2026-11-23T12:06:00Z")]},
            400,
            "event_time_out_of_window",
            "events[0].ts",
            id="future",
        ),
        pytest.param(
            {"events": [event(app="Work Space")]}, 400, "invalid_value", "events[0].app", id="bad-app"
        ),
        pytest.param({"events": [event(app="a" * 41)]}, 400, "invalid_value", "events[0].app", id="long-app"),
        pytest.param(
            {"events": [event(page="/" + "a" * 512)]}, 400, "invalid_value", "events[0].page", id="long-page"
        ),
        pytest.param(
            {"events": [event(page=["/x"])]}, 400, "invalid_value", "events[0].page", id="page-list"
        ),
        pytest.param({"events": "all"}, 400, "invalid_value", "events", id="events-not-list"),
        pytest.param(
            {"events": [event(event_id=7)]}, 400, "invalid_value", "events[0].event_id", id="id-number"
        ),
    ],
)
def test_bad_batches_are_rejected_whole(client, body, status, code, field):
    grant(client)
    before = client.entity_count()
    response = client.post("/api/events", body)
    assert response.status == status, response.body
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["field"] == field
    assert client.entity_count() == before


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_beyond_the_calendar_are_out_of_window_not_500(client, ts):
    """Found by schemathesis: converting these to UTC overflows Python's datetime."""
    grant(client)
    response = client.post("/api/events", {"events": [event(ts=ts)]})
    assert response.status == 400
    assert response.json()["error"]["code"] == "event_time_out_of_window"
    assert response.json()["error"]["field"] == "events[0].ts"
    assert stored_events(client) == []


def test_time_window_edges_are_inclusive(client):
    grant(client)
    ok = client.post(
        "/api/events",
        {
            "events": [
                event(ts="2026-11-22T12:00:00Z"),
                event(ts="2026-11-23T12:05:00Z"),
                event(ts="2026-11-23T14:00:00+02:00"),
            ]
        },
    )
    assert ok.status == 202 and ok.json()["accepted"] == 3


def test_body_over_64_kib_is_413(client):
    grant(client)
    padded = json.dumps(batch(1)) + " " * (64 * 1024)
    response = client.request("POST", "/api/events", body=padded)
    assert response.status == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert stored_events(client) == []


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data", None])
def test_other_content_types_are_415(client, content_type):
    grant(client)
    response = client.request("POST", "/api/events", body=json.dumps(batch(1)), content_type=content_type)
    assert response.status == 415
    assert stored_events(client) == []


def test_principal_required(client):
    response = client.post("/api/events", batch(1), principal=None)
    assert response.status == 401


# ---- storage layout ---------------------------------------------------------------------------


def test_client_time_picks_the_day_table(client, clock):
    clock.now = clock.now.replace(hour=0, minute=2)
    grant(client)
    client.post(
        "/api/events",
        {"events": [event(ts="2026-11-22T23:59:00Z"), event(ts="2026-11-23T00:01:00Z"), event(ts=None)]},
    )
    tables = {
        name[len(client.services.settings.table_prefix) :]: sum(row["RowKey"] != MARKER for row in rows)
        for name, rows in client.stored().items()
        if "ev2" in name
    }
    # each day's rows sit in that day's table for the user's partition (`ev<day>s<shard>`)
    assert {name[:10]: count for name, count in tables.items()} == {"ev20261122": 1, "ev20261123": 2}
    assert len({name[10:] for name in tables}) == 1  # the same shard on both days: one partition


def test_users_get_separate_partitions(client):
    bob = principal_header(user_id="bob", name="bob@contoso.com")
    grant(client)
    grant(client, bob)
    client.post("/api/events", batch(2))
    client.post("/api/events", batch(3), principal=bob)
    partitions = {row["PartitionKey"] for row in stored_events(client)}
    assert len(partitions) == 2


def test_anonymous_partitions_spread_by_tenant():
    """Anonymous rows have no session: one bucket per tenant keeps a request one transaction."""
    keys = {event_partition(None, "t" + uuid.uuid4().hex[:16]) for _ in range(2000)}
    assert len(keys) == 64
    assert event_partition(None, "tabc") == event_partition(None, "tabc")


# ---- catalogues -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "stored"),
    [
        ("/people/kari-nordmann/profile", "/people/{id}/profile"),
        ("/cases/printer-on-fire", "/cases/{id}"),
        ("/docs/how-to-reset-password-for-kari", "/docs/{slug}"),
        ("/tenants/contoso-as/admin", "/tenants/{id}/admin"),
        ("/cases/new", "/cases/new"),
        ("/cases/4711/edit?description=printer+on+fire", "/cases/{id}/edit"),
        ("/kari-nordmann", "(unlisted)"),
        ("/secret-project/roadmap", "(unlisted)"),
    ],
)
def test_pages_are_stored_as_catalogue_templates(client, page, stored):
    grant(client)
    assert client.post("/api/events", batch(1, page=page)).json()["accepted"] == 1
    assert stored_events(client)[0]["page"] == stored


def test_unknown_app_is_stored_as_unlisted(client):
    grant(client)
    client.post("/api/events", {"events": [event(app="ord-99887766"), event(app="cases")]})
    assert sorted(row["app"] for row in stored_events(client)) == ["(unlisted)", "cases"]
    assert "99887766" not in client.stored_text()


def test_ops_see_unlisted_counts_per_day_never_the_text(client):
    grant(client)
    client.post(
        "/api/events",
        {
            "events": [
                event(page="/kari-nordmann", app="ord-99887766"),
                event(page="/cases/printer-on-fire"),
                event(page="/secret-project"),
            ]
        },
    )
    ops = principal_header(user_id="ops", tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Operator",))
    response = client.post(
        "/api/ops/catalogue/unlisted", {"from": "2026-11-20", "to": "2026-11-23"}, principal=ops
    )
    assert response.status == 200
    assert response.json() == {
        "days": [{"day": "2026-11-23", "events": 3, "unlisted_pages": 2, "unlisted_apps": 1}]
    }
    for text in ("kari", "secret", "99887766", "printer"):
        assert text not in response.body.decode()
    assert (
        client.post("/api/ops/catalogue/unlisted", {"from": "2026-11-20", "to": "2026-11-23"}).status == 403
    )
    bad = client.post(
        "/api/ops/catalogue/unlisted", {"from": "2026-11-24", "to": "2026-11-23"}, principal=ops
    )
    assert bad.status == 400


# ---- abuse limit ------------------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_principal_limit_is_429_with_retry_after(make_client):
    from shared.ingestion.limits import EventRateLimit

    client = make_client(EVENTS_PER_MINUTE="120")
    time = FakeMonotonic()
    client.services.ingest.limit = EventRateLimit(120, clock=time)
    grant(client)
    assert client.post("/api/events", batch(100)).status == 202
    refused = client.post("/api/events", batch(30))
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert set(refused.json()["error"]) == {"code", "message"}
    assert refused.header("Retry-After") == "5"  # 10 missing events at 2 per second
    assert len(stored_events(client)) == 100  # nothing of the refused batch
    bob = principal_header(user_id="bob")
    grant(client, bob)
    assert client.post("/api/events", batch(30), principal=bob).status == 202  # per principal
    time.now += 5
    assert client.post("/api/events", batch(30)).status == 202  # after Retry-After it fits
    assert len(stored_events(client)) == 160


def test_one_budget_per_person_however_the_ids_are_cased(make_client):
    """`RL-x` and `rl-x` are one person to the pseudonyms (one consent record, one pseudonym), so
    they get one allowance too: the limit keys the principal exactly as the pseudonym is keyed."""
    from shared.ingestion.limits import EventRateLimit

    client = make_client(EVENTS_PER_MINUTE="120")
    client.services.ingest.limit = EventRateLimit(120, clock=FakeMonotonic())
    upper = principal_header(user_id="RL-x", tenant_id=TENANT_ID.upper())
    lower = principal_header(user_id="rl-x", tenant_id=TENANT_ID.lower())
    grant(client, upper)
    assert client.get("/api/consent", principal=lower).json()["status"] == "granted"  # one record
    assert client.post("/api/events", batch(100), principal=upper).status == 202
    refused = client.post("/api/events", batch(30), principal=lower)
    assert refused.status == 429 and refused.header("Retry-After") == "5"


def test_limit_is_a_setting_of_at_least_one_batch():
    from shared.kernel.settings import Settings, SettingsError

    base = {"TABLES_CONNECTION_STRING": "x", "DEV_SALT_FILE": "/tmp/s", "POLICY_VERSION": "1"}
    assert Settings.from_env(base).events_per_minute == 600
    with pytest.raises(SettingsError, match="EVENTS_PER_MINUTE"):
        Settings.from_env({**base, "EVENTS_PER_MINUTE": "99"})


# ---- failures ---------------------------------------------------------------------------------


def test_vault_down_cold_cache_is_503_nothing_stored(client, vault):
    vault.down = True
    response = client.post("/api/events", batch(3))
    assert response.status == 503 and response.header("Retry-After")
    assert client.entity_count() == 0


def test_cors_preflight_for_beacon_and_fetch(client):
    response = client.request(
        "OPTIONS",
        "/api/events",
        principal=None,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert response.header("Access-Control-Allow-Origin") == ORIGIN
    assert response.header("Access-Control-Allow-Methods") == "POST"
    post = client.post("/api/events", batch(1), headers={"Origin": ORIGIN})
    assert post.header("Access-Control-Allow-Origin") == ORIGIN


def test_clock_window_uses_server_receive_time(client, clock):
    grant(client)
    clock.advance(hours=25)
    response = client.post("/api/events", batch(1))  # ts 11:59 the day before: now too old
    assert response.status == 400
    clock.now -= timedelta(hours=25)
