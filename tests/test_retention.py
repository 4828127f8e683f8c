"""Retention against Azurite with an injected clock: the exact 24-month boundary and its safety."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from azure.functions.timer import TimerRequest

from shared.ingestion.ingest import keep
from shared.kernel.errors import StorageUnavailable
from shared.kernel.periods import months_before, oldest_kept_day
from shared.storage.events import SHARDS
from testing.client import POLICY
from testing.factories import stored_event
from testing.principal import STAFF_TENANT_ID, principal_header

AHEAD = [date(2026, 11, 23), date(2026, 11, 24)]
"""Today's and tomorrow's tables, which every retention run creates ahead of the traffic."""
OPS = principal_header(
    user_id="ops-user-oid",
    tenant_id=STAFF_TENANT_ID,
    name="operator@cegal.example",
    roles=("Cetegra.Analytics.Operator",),
)


def seed(client, day: date, count: int = 1, pseudonym: int | None = 2**62 + 5) -> None:
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    keep(client.services.tables, (stored_event(moment, pseudonym=pseudonym) for _ in range(count)))


@pytest.mark.parametrize(
    ("today", "months", "expected"),
    [
        (date(2026, 11, 23), 24, date(2024, 11, 23)),
        (date(2026, 3, 31), 1, date(2026, 2, 28)),
        (date(2028, 2, 29), 24, date(2026, 2, 28)),
        (date(2026, 1, 15), 13, date(2024, 12, 15)),
    ],
)
def test_months_before(today, months, expected):
    assert months_before(today, months) == expected


def test_exact_24_month_boundary(client):
    for day in (date(2024, 11, 22), date(2024, 11, 23), date(2024, 11, 24), date(2026, 11, 22)):
        seed(client, day)
    result = client.services.retention.run()  # clock: 2026-11-23 12:00 UTC
    assert result.oldest_kept_day == date(2024, 11, 24) == oldest_kept_day(date(2026, 11, 23), 24)
    assert result.removed_days == [date(2024, 11, 22), date(2024, 11, 23)]  # first removed day: 2024-11-23
    kept = client.services.tables.events.days()
    assert kept == [date(2024, 11, 24), date(2026, 11, 22), *AHEAD]  # last kept day: 2024-11-24
    remaining = [
        e for d in client.services.tables.events.days() for e in client.services.tables.events.read(d)
    ]
    assert min(e.day for e in remaining).date() == date(2024, 11, 24)


def test_next_day_moves_the_boundary(client, clock):
    seed(client, date(2024, 11, 24))
    client.services.retention.run()
    assert client.services.tables.events.days() == [date(2024, 11, 24), *AHEAD]
    clock.advance(days=1)
    assert client.services.retention.run().removed_days == [date(2024, 11, 24)]


def test_rerun_is_harmless(client):
    seed(client, date(2024, 1, 1))
    seed(client, date(2026, 11, 1))
    first = client.services.retention.run()
    second = client.services.retention.run()
    assert first.removed_periods == 1 and second.removed_periods == 0
    assert client.services.tables.events.days() == [date(2026, 11, 1), *AHEAD]


def test_crash_between_periods_then_rerun(client, monkeypatch):
    for day in (date(2023, 5, 1), date(2023, 6, 1), date(2023, 7, 1), date(2026, 11, 1)):
        seed(client, day)
    storage = client.services.storage
    real_delete = storage.delete_table
    calls = []

    second_day = client.services.tables.events.tables(date(2023, 6, 1))[0]

    def flaky(name):
        calls.append(name)
        if name == second_day:  # the first day is gone, the second not yet begun
            raise StorageUnavailable("table storage is unavailable")
        real_delete(name)

    monkeypatch.setattr(storage, "delete_table", flaky)
    with pytest.raises(StorageUnavailable):
        client.services.retention.run()
    assert client.services.tables.events.days() == [
        date(2023, 6, 1),
        date(2023, 7, 1),
        date(2026, 11, 1),
        *AHEAD,
    ]
    monkeypatch.setattr(storage, "delete_table", real_delete)
    assert client.services.retention.run().removed_days == [date(2023, 6, 1), date(2023, 7, 1)]
    assert client.services.tables.events.days() == [date(2026, 11, 1), *AHEAD]


def test_cost_is_a_fixed_count_of_operations_per_period_not_per_event(make_client, monkeypatch):
    costs = []
    for size in (1, 300):
        client = make_client()
        seed(client, date(2023, 1, 1), count=size)
        seed(client, date(2023, 1, 2), count=size)
        storage = client.services.storage
        calls: list[tuple[str, str]] = []
        for name in ("list_tables", "delete_table", "delete_entities", "query", "scan", "get"):
            real = getattr(storage, name)

            def spy(*args, _real=real, _name=name, _calls=calls, **kwargs):
                _calls.append((_name, str(args[0]) if args else ""))
                return _real(*args, **kwargs)

            monkeypatch.setattr(storage, name, spy)
        result = client.services.retention.run()
        event_tables = [
            *client.services.tables.events.tables(date(2023, 1, 1)),
            *client.services.tables.events.tables(date(2023, 1, 2)),
        ]
        assert len(event_tables) == 2 * SHARDS  # the listing found no table of the earlier layout
        assert result.storage_operations == 1 + 2 * SHARDS  # one listing + one delete per table
        assert [c for c in calls if c[0] == "delete_table"] == [("delete_table", t) for t in event_tables]
        assert not [c for c in calls if c[0] != "delete_table" and c[1] in event_tables]  # never entity-level
        costs.append(len(calls))
    assert costs[0] == costs[1]


def test_never_touches_consent_aggregates_or_audit(client, clock):
    assert client.put("/api/consent", {"status": "granted", "policy_version": POLICY}).status == 200
    for user in range(5):
        seed(client, date(2026, 11, 20), pseudonym=2**40 + user)
    assert client.post("/api/ops/aggregation/run", {}, principal=OPS).json()["cells"] == 1
    seed(client, date(2020, 1, 1))
    before = set(client.tables())
    assert client.post("/api/ops/retention/run", {}, principal=OPS).status == 200
    after = set(client.tables())
    events = client.services.tables.events
    assert before - after == set(events.tables(date(2020, 1, 1))) & before
    assert after - before == {t for d in AHEAD for t in events.tables(d)} - before
    for base in ("consent", "aggdaily", "aggstate", "audit"):
        assert client.services.storage.table(base) in after


def test_ops_route_needs_role_and_is_audited(client):
    seed(client, date(2020, 1, 1))
    denied = client.post("/api/ops/retention/run", {})  # a normal user
    assert denied.status == 403 and denied.json()["error"]["code"] == "forbidden"
    assert client.services.tables.events.days() == [date(2020, 1, 1)]
    bare = client.request("POST", "/api/ops/retention/run", principal=OPS)  # no content type
    assert bare.status == 415 and bare.json()["error"]["code"] == "unsupported_media_type"
    ok = client.request("POST", "/api/ops/retention/run", body=b"", principal=OPS)  # empty JSON: {}
    assert ok.status == 200
    assert ok.json()["removed_days"] == ["2020-01-01"] and ok.json()["removed_periods"] == 1
    bad = client.post("/api/ops/retention/run", {"months": 1}, principal=OPS)
    assert bad.status == 400 and bad.json()["error"]["code"] == "unknown_field"
    records = client.services.tables.audit.day(date(2026, 11, 23))
    assert sorted(r.status for r in records) == [200, 400, 403, 415]
    granted = next(r for r in records if r.status == 200)
    assert granted.operation == "POST /api/ops/retention/run"
    assert json.loads(granted.counts) == {
        "removed_periods": 1,
        "notification_rows_removed": 0,
        "consent_markers_removed": 0,
    }
    assert granted.actor.startswith("o") and len(granted.actor) == 17
    text = json.dumps(records, default=str)
    for raw in (
        "ops-user-oid",
        "operator@cegal.example",
        "c0ffee00-1111-2222-3333-444455556666",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
    ):
        assert raw not in text


def test_timer_function_runs_retention(router, client):
    import function_app  # noqa: F401 — the router was built from its registrations

    seed(client, date(2020, 1, 1))
    timer = next(t for t in router.timers if t.get_function_name() == "retention_timer")
    trigger = timer.get_trigger()
    assert trigger.schedule == "0 5 0 * * *" and trigger.use_monitor is True and not trigger.run_on_startup
    timer.get_user_function()(TimerRequest(past_due=True))
    assert client.services.tables.events.days() == AHEAD
