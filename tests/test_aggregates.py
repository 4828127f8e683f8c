"""Aggregation against Azurite with an injected clock: cells, the k rule, catch-up, late events."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from azure.functions.timer import TimerRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ingestion.ingest import keep
from shared.kernel.errors import StorageUnavailable
from shared.privacy.disclosure import Cell, fold_cells
from shared.reporting.aggregates import ALL, DAILY_FOLDS, MONTHLY_FOLDS, OTHER
from testing.factories import stored_event
from tests.test_retention import OPS

DAY = date(2026, 11, 20)


def ev(
    day=DAY,
    *,
    user=1,
    tenant="tA",
    user_type="basic_user",
    name="app.launch",
    app="workspace",
    session=None,
    hour=12,
):
    moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    if user is None:  # an anonymous row as ingestion writes it: no session id, no user type
        return stored_event(
            moment, name=name, session_id=None, app=app, tenant_ref=tenant, user_type=None, pseudonym=None
        )
    return stored_event(
        moment,
        name=name,
        session_id=session or f"00000000-0000-0000-0000-{user:012d}",
        app=app,
        tenant_ref=tenant,
        user_type=user_type,
        pseudonym=2**62 + user,
    )


def daily(client, day=DAY):
    return {cell.key: cell for cell in client.services.tables.aggregates.daily(day)}


def test_cells_count_events_sessions_and_users(client, clock):
    events = [ev(user=u, session=f"00000000-0000-0000-0001-{u:012d}") for u in range(1, 7)]
    events += [ev(user=1, session="00000000-0000-0000-0002-000000000001")]  # second session of user 1
    events += [ev(user=None) for _ in range(3)]  # anonymous: no user type, so under (all)
    keep(client.services.tables, events)
    result = client.services.aggregation.run()
    assert result.built_days == [DAY] and result.events == 10
    cells = daily(client)
    cell = cells[("tA", "basic_user", "app.launch", "workspace")]
    assert (cell.events, cell.sessions, cell.users) == (7, 7, 6)
    anonymous = cells[("tA", ALL, "app.launch", "workspace")]
    assert (anonymous.events, anonymous.sessions, anonymous.users) == (3, 0, 0)


def test_small_cells_fold_and_totals_are_kept(make_client):
    client = make_client(AGGREGATE_MIN_USERS="5")
    events = []
    events += [ev(user=u, name="app.launch") for u in range(1, 8)]  # 7 users: kept as is
    events += [ev(user=u, name="case.submitted") for u in range(1, 3)]  # 2 users: folded
    events += [ev(user=u, name="catalog.ordered") for u in range(3, 6)]  # 3 users: folded with the above
    events += [ev(user=100 + u, user_type="it_admin", name="feature.used") for u in range(2)]  # 2 admins
    events += [ev(user=200 + u, user_type="advanced_user", name="feature.used") for u in range(2)]
    events += [ev(user=300, tenant="tB", name="app.launch", app="docs")]  # a lone user of another tenant
    keep(client.services.tables, events)
    result = client.services.aggregation.run()
    cells = daily(client)
    # 2 admins + 2 advanced users (4 < 5) fold down to (tA, all, other, other), then merge with
    # tenant B's lone user into the coarsest remainder, which then describes 5 people.
    assert set(cells) == {
        ("tA", "basic_user", "app.launch", "workspace"),  # 7 users
        ("tA", "basic_user", OTHER, "workspace"),  # case (2) + catalog (3) = 5 users
        (ALL, ALL, OTHER, OTHER),  # 4 + 1 = 5 users
    }
    assert {k: r.users for k, r in cells.items()} == {
        ("tA", "basic_user", "app.launch", "workspace"): 7,
        ("tA", "basic_user", OTHER, "workspace"): 5,
        (ALL, ALL, OTHER, OTHER): 5,
    }
    assert result.suppressed_events == 0
    assert sum(r.events for r in cells.values()) == len(events)


def test_no_kept_cell_under_k_on_random_data(make_client):
    import random

    rng = random.Random(7)
    client = make_client(AGGREGATE_MIN_USERS="5")
    events = [
        ev(
            user=rng.randint(1, 60),
            tenant=rng.choice(["tA", "tB", "tC"]),
            user_type=rng.choice(["basic_user", "advanced_user", "it_admin"]),
            name=rng.choice(["app.launch", "nav.page_view", "case.submitted", "catalog.ordered"]),
            app=rng.choice(["workspace", "docs", "catalog"]),
            hour=rng.randint(0, 23),
        )
        for _ in range(1500)
    ]
    keep(client.services.tables, events)
    result = client.services.aggregation.run()
    cells = daily(client).values()
    assert all(row.users >= 5 for row in cells)
    assert sum(r.events for r in cells) + result.suppressed_events == 1500
    by_name_raw = Counter(e.name for e in events)
    kept_named = Counter()
    for row in cells:
        kept_named[row.key.name] += row.events
    assert kept_named["(other)"] + sum(kept_named[n] for n in by_name_raw) + result.suppressed_events == 1500


def test_anonymous_events_count_as_events_never_as_people_or_sessions():
    anonymous_only = Cell()
    for _ in range(50):
        anonymous_only.add(None, None)
    mixed = Cell()
    mixed.add("s1", 1)
    mixed.add("s2", 2)
    mixed.add(None, None)
    cells = {("t", ALL, "app.launch", "w"): anonymous_only, ("t", "basic_user", "case.submitted", "w"): mixed}
    kept, suppressed = fold_cells(cells, 5, [(2, OTHER)])
    # 50 anonymous events describe 0 people: publishable under the k rule (0 or >= k), events only
    assert kept[("t", ALL, "app.launch", "w")].events == 50
    assert (
        kept[("t", ALL, "app.launch", "w")].people,
        len(kept[("t", ALL, "app.launch", "w")].sessions),
    ) == (0, 0)
    # 2 people (+ an anonymous event) is under k: folded, then suppressed, never shown as 2 or 3
    assert ("t", "basic_user", "case.submitted", "w") not in kept and suppressed == 3


small_events = st.lists(
    st.tuples(
        st.sampled_from(["tA", "tB"]),
        st.sampled_from(["basic_user", "it_admin"]),
        st.sampled_from(["app.launch", "case.submitted", "feature.used"]),
        st.sampled_from(["workspace", "docs"]),
        st.one_of(st.none(), st.integers(1, 14)),  # a person, or an anonymous event
        st.integers(0, 1),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(small_events, st.integers(2, 5), st.booleans())
def test_fold_cells_equals_a_brute_force_of_its_rule(events, k, monthly):
    """The aggregates' k rule (`fold_cells`) against a brute force of its definition on small
    random days: a raw cell's group at fold stage i is every raw cell with the same key after the
    first i folds that no earlier stage kept; a group of 0 or >= k people is kept (merged with
    other kept groups of the same key), a last group under k is suppressed. So: the kept cells and
    their counts are exact, no kept cell shows 1..k-1 people, and kept + suppressed = every event."""
    folds = MONTHLY_FOLDS if monthly else DAILY_FOLDS
    raw: dict[tuple[str, ...], list[tuple[int | None, str | None]]] = {}
    for tenant, user_type, name, app, user, session in events:
        # anonymous events carry no user type or session, as ingestion stores them
        key = (tenant, ALL) if monthly else (tenant, ALL, name, app)
        if user is not None:
            key = (tenant, user_type) if monthly else (tenant, user_type, name, app)
        raw.setdefault(key, []).append((user, None if user is None else f"s{user}-{session}"))
    cells = {}
    for key, rows in raw.items():
        cell = cells[key] = Cell()
        for user, session in rows:
            cell.add(session, user)

    def coarsened(key, stage):
        for position, placeholder in folds[:stage]:
            key = (*key[:position], placeholder, *key[position + 1 :])
        return key

    expected: dict[tuple[str, ...], tuple[int, set, set]] = {}
    placed: set[tuple[str, ...]] = set()  # raw keys some stage kept
    suppressed = 0
    for stage in range(len(folds) + 1):
        groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for key in raw:
            if key not in placed:
                groups.setdefault(coarsened(key, stage), []).append(key)
        for target, members in groups.items():
            rows = [row for key in members for row in raw[key]]
            people = {user for user, _ in rows if user is not None}
            if len(people) == 0 or len(people) >= k:
                events_, users, sessions = expected.get(target, (0, set(), set()))
                expected[target] = (
                    events_ + len(rows),
                    users | people,
                    sessions | {session for _, session in rows if session},
                )
                placed.update(members)
            elif stage == len(folds):
                suppressed += len(rows)

    kept, folded_away = fold_cells(cells, k, folds)
    assert {key: (c.events, c.users, c.sessions) for key, c in kept.items()} == expected
    assert folded_away == suppressed
    assert all(c.people == 0 or c.people >= k for c in kept.values())  # never 1..k-1 people
    assert sum(c.events for c in kept.values()) + folded_away == len(events)


def test_catch_up_three_missed_days(client, clock):
    days = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    keep(client.services.tables, [ev(d, user=u) for d in days for u in range(1, 6)])
    result = client.services.aggregation.run()
    assert result.built_days == days
    assert result.final_days == days  # 2026-11-23 12:00 is past each day's late window
    assert client.services.aggregation.run().built_days == []  # nothing left to do


def test_late_event_is_re_aggregated_until_the_day_is_final(client, clock):
    clock.now = datetime(2026, 11, 21, 0, 30, tzinfo=UTC)  # the morning after DAY
    keep(client.services.tables, [ev(user=u) for u in range(1, 6)])
    first = client.services.aggregation.run()
    assert first.built_days == [DAY] and first.final_days == []
    keep(client.services.tables, [ev(user=6, hour=23)])  # arrives late, inside the 24 h window
    clock.now = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
    second = client.services.aggregation.run()
    assert second.built_days == [DAY] and second.final_days == [DAY]
    assert daily(client)[("tA", "basic_user", "app.launch", "workspace")].users == 6
    clock.advance(days=1)
    assert client.services.aggregation.run().built_days == []


def test_rerun_gives_identical_rows(client):
    keep(
        client.services.tables,
        [ev(user=u, name=n) for u in range(1, 9) for n in ("app.launch", "case.submitted")],
    )
    client.services.aggregation.run()
    first = daily(client)
    client.services.aggregation.run(DAY, DAY)
    second = daily(client)
    assert first == second


def test_crash_resumes_cleanly(client, monkeypatch):
    days = [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    keep(client.services.tables, [ev(d, user=u) for d in days for u in range(1, 6)])
    store = client.services.tables.aggregates
    real = store.save_state
    calls = []

    def crash(kind, period, **kw):
        calls.append(period)
        if len(calls) == 2:
            raise StorageUnavailable("table storage is unavailable")
        real(kind, period, **kw)

    monkeypatch.setattr(store, "save_state", crash)
    with pytest.raises(StorageUnavailable):
        client.services.aggregation.run()
    monkeypatch.setattr(store, "save_state", real)
    resumed = client.services.aggregation.run()
    assert resumed.built_days == days[1:]
    for day in days:
        assert daily(client, day)[("tA", "basic_user", "app.launch", "workspace")].users == 5


def test_monthly_cells_when_the_month_is_final(client, clock):
    keep(
        client.services.tables,
        [ev(date(2026, 10, d), user=u) for d in (1, 15, 31) for u in range(1, 7)]
        + [ev(date(2026, 11, 2), user=u) for u in range(1, 7)],
    )
    result = client.services.aggregation.run()
    assert result.built_months == ["2026-10"]  # November is not over
    rows = client.services.tables.aggregates.monthly(date(2026, 10, 1))
    assert len(rows) == 1
    assert (rows[0].active_users, rows[0].events, rows[0].key.tenant) == (6, 18, "tA")
    assert client.services.aggregation.run().built_months == []


def test_aggregate_tables_hold_no_pseudonym_session_or_event_id(client):
    events = [ev(user=u, name=n) for u in range(1, 12) for n in ("app.launch", "nav.page_view")]
    events += [ev(date(2026, 10, 5), user=u) for u in range(1, 12)]
    keep(client.services.tables, events)
    client.services.aggregation.run()
    stored = client.stored()
    agg_text = json.dumps({k: v for k, v in stored.items() if "agg" in k}, default=str)
    assert "aggdaily" in agg_text or stored  # something was built
    for e in events:
        assert e.event_id not in agg_text
        assert e.session_id not in agg_text
        assert str(e.pseudonym) not in agg_text and f"{e.pseudonym:016x}" not in agg_text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"from": "2026-11-20"}, "invalid_body"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "invalid_body"),
        ({"from": "yesterday", "to": "2026-11-20"}, "invalid_value"),
        ({"from": "2020-01-01", "to": "2026-11-20"}, "invalid_body"),
        ({"days": 3}, "unknown_field"),
    ],
)
def test_ops_aggregation_rejects_bad_ranges(client, body, code):
    response = client.post("/api/ops/aggregation/run", body, principal=OPS)
    assert response.status == 400 and response.json()["error"]["code"] == code
    assert not [t for t in client.tables() if "agg" in t]


def test_ops_aggregation_rebuilds_a_range(client):
    keep(client.services.tables, [ev(user=u) for u in range(1, 6)])
    response = client.post(
        "/api/ops/aggregation/run", {"from": "2026-11-19", "to": "2026-11-30"}, principal=OPS
    )
    assert response.status == 200
    assert response.json()["built_days"] == ["2026-11-20"]  # only days that still have raw data
    assert client.post("/api/ops/aggregation/run", {}).status == 403


def test_aggregation_timer(router, client):
    keep(client.services.tables, [ev(user=u) for u in range(1, 6)])
    timer = next(t for t in router.timers if t.get_function_name() == "aggregation_timer")
    assert timer.get_trigger().schedule == "0 30 0 * * *" and timer.get_trigger().use_monitor is True
    timer.get_user_function()(TimerRequest())
    assert daily(client)


def test_rebuilding_expired_days_never_erases_their_aggregates(client, clock):
    """Aggregates outlive raw data; an ops rebuild over expired days must leave them as they are."""
    keep(client.services.tables, [ev(user=u) for u in range(1, 7)])
    client.services.aggregation.run()
    kept = daily(client)
    assert kept
    clock.advance(days=800)
    client.services.retention.run()  # DAY's raw events are gone now
    response = client.post(
        "/api/ops/aggregation/run", {"from": "2026-11-01", "to": "2026-11-30"}, principal=OPS
    )
    assert response.status == 200 and response.json()["built_days"] == []
    assert daily(client) == kept


def test_far_away_ranges_are_harmless(client):
    for body in ({"from": "0001-01-01", "to": "0001-01-02"}, {"from": "9999-12-30", "to": "9999-12-31"}):
        response = client.post("/api/ops/aggregation/run", body, principal=OPS)
        assert response.status == 200 and response.json()["built_days"] == []


def test_monthly_cells_are_the_same_whether_their_days_were_read_in_this_run_or_not(client, clock):
    """A month built from days read by this run's daily builds plus days read only for the month
    equals a full rebuild that reads every day again, and a count straight from the raw events."""
    tables = client.services.tables
    events = [
        ev(date(2026, 9, d), user=u, tenant=f"t{u % 2}", session=f"00000000-0000-0000-{d:04d}-{u:012d}")
        for d in (3, 10, 20)
        for u in range(1, 13)
    ] + [ev(date(2026, 9, 10), user=None, tenant="t0", session="00000000-0000-0000-9999-000000000001")]
    keep(tables, events)
    aggregation = client.services.aggregation
    assert aggregation.run(date(2026, 9, 10), date(2026, 9, 10)).built_months == ["2026-09"]
    partly = sorted(tables.aggregates.monthly(date(2026, 9, 1)))
    assert aggregation.run(date(2026, 9, 1), date(2026, 9, 30)).built_months == ["2026-09"]
    assert sorted(tables.aggregates.monthly(date(2026, 9, 1))) == partly
    by_cell = {(row.key.tenant, row.key.user_type): row for row in partly}
    assert {k: (r.active_users, r.sessions, r.events) for k, r in by_cell.items()} == {
        ("t0", "basic_user"): (6, 18, 18),
        ("t0", ALL): (0, 0, 1),  # the anonymous event: events only, never a person or a session
        ("t1", "basic_user"): (6, 18, 18),
    }
