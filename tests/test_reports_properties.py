"""Every report metric against an independent brute-force computation over random raw events.

The brute force below never uses the rollup or the cells: it counts straight from the raw events,
clipping each person's share as docs/privacy-model.md promises. In the test kit's exact mode
(no noise) every shown cell equals the brute force and has at least k people, every hidden cell
has fewer and carries no number; every scope of the key domain has its row. (The noise itself is
tested in tests/test_privacy_releases.py.) The first tests run the pure pipeline (hundreds of
examples), the last runs the whole nightly build through Azurite (fewer examples: every one
writes tables).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ingestion.ingest import keep
from shared.kernel.periods import period_days, week_key
from shared.privacy.disclosure.releases import (
    DAY_EVENTS,
    DAY_SESSIONS,
    FEATURE_EVENTS,
    PERIOD_EVENTS,
    PERIOD_FEATURES,
    PERIOD_SESSIONS,
    Releaser,
)
from shared.reporting.build import DayRollup, Domain, active_cells, feature_cells
from shared.reporting.cells import ALL, OTHER, feature_of
from shared.storage.events import EventFacts
from shared.storage.reports import UserDay
from testing.factories import stored_event

MONDAY = date(2026, 10, 5)  # ISO week 2026-W41
TENANTS = ("tA", "tB", "tC")
USER_TYPES = ("basic_user", "advanced_user", "it_admin")
NAMES = ("app.launch", "nav.page_view", "case.submitted", "feature.used")
PAGES = ("/home", "/cases/{id}", "/catalog")
APPS = ("workspace", "docs", None)

raw_event = st.fixed_dictionaries(
    {
        "day": st.integers(0, 13),
        "user": st.one_of(st.none(), st.integers(1, 40)),
        "session": st.integers(0, 2),
        "name": st.sampled_from(NAMES),
        "page": st.sampled_from(PAGES),
        "app": st.sampled_from(APPS),
    }
)


def materialise(spec: dict, anon_tenant: int = 0) -> dict:
    """A raw row as the aggregation's scan returns it. A user's tenant and type are fixed."""
    user = spec["user"]
    tenant = TENANTS[(user or anon_tenant) % 3]
    return {
        "day": MONDAY + timedelta(days=spec["day"]),
        "tenant": tenant,
        "user_type": USER_TYPES[(user or 0) // 3 % 3],
        "pseudonym": None if user is None else 2**40 + user,
        "session_id": f"s{user}-{spec['session']}",
        "name": spec["name"],
        "page": spec["page"],
        "app": spec["app"],
    }


def rollup_rows(raw: list[dict], days: list[date]) -> list[UserDay]:
    rows = []
    for day in days:
        rollup = DayRollup()
        for event in raw:
            if event["day"] == day:
                rollup.add(
                    EventFacts(
                        event["session_id"],
                        event["tenant"],
                        event["user_type"],
                        event["name"],
                        event["app"],
                        event["pseudonym"],
                        event["page"],
                    )
                )
        rows += rollup.rows({t: t for t in TENANTS})
    return rows


def in_scope(event: dict, tenant: str, user_type: str) -> bool:
    return tenant in (ALL, event["tenant"]) and user_type in (ALL, event["user_type"])


def brute_active(raw: list[dict], tenant: str, user_type: str, grain: str = "week") -> tuple[int, int, int]:
    """(consented people, their session-days, their events), each person's share clipped as the
    releases promise: per day (DAY_*) for days, per period (PERIOD_*) for weeks and months.
    Anonymous events are in no release (no person to bound)."""
    scoped = [e for e in raw if in_scope(e, tenant, user_type) and e["pseudonym"] is not None]
    people: dict[int, list[dict]] = defaultdict(list)
    for e in scoped:
        people[e["pseudonym"]].append(e)
    sessions = events = 0
    for rows in people.values():
        days: dict[date, list[dict]] = defaultdict(list)
        for e in rows:
            days[e["day"]].append(e)
        s = sum(len({e["session_id"] for e in d}) for d in days.values())
        n = len(rows)
        if grain == "day":
            s, n = min(s, DAY_SESSIONS), min(n, DAY_EVENTS)
        else:
            s, n = min(s, PERIOD_SESSIONS), min(n, PERIOD_EVENTS)
        sessions += s
        events += n
    return len(people), sessions, events


def domain() -> Domain:
    apps = sorted({a or "(none)" for a in APPS})
    features = sorted({feature_of(n, p) for n in NAMES for p in PAGES})
    return Domain(TENANTS, tuple((a, f) for a in apps for f in features))


EXACT = lambda k: Releaser(k, noise=False)  # noqa: E731 — the test kit's exact mode


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(raw_event, max_size=250),
    k=st.sampled_from([2, 3, 5]),
    grain=st.sampled_from(["day", "week"]),
)
def test_active_cells_equal_brute_force(specs, k, grain):
    """Every scope of the domain has a row; a shown row is exact (in exact mode) with at least k
    people; a hidden row has fewer than k and no numbers at all."""
    raw = [materialise(s, i) for i, s in enumerate(specs)]
    days = [MONDAY] if grain == "day" else period_days("week", week_key(MONDAY))
    period = [e for e in raw if e["day"] in days]
    cells, hidden = active_cells(grain, "p", rollup_rows(raw, days), EXACT(k), domain())
    rows = {(c.tenant, c.user_type): c for c in cells}
    assert set(rows) == set(domain().scopes()) and len(rows) == len(cells)
    for scope, cell in rows.items():
        exact = brute_active(period, *scope, grain=grain)
        if cell.hidden:
            assert exact[0] < k and (cell.sessions, cell.events) == (None, None)
        else:
            assert (cell.active_users, cell.sessions, cell.events) == exact and exact[0] >= k
    assert hidden == sum(c.hidden for c in cells)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(raw_event, max_size=250), k=st.sampled_from([2, 3, 5]))
def test_feature_cells_equal_brute_force(specs, k):
    """Each person counts in at most PERIOD_FEATURES["week"] features (their most used), with at
    most FEATURE_EVENTS events each; a listed feature is exact in exact mode and has k+ people."""
    raw = [materialise(s, i) for i, s in enumerate(specs)]
    days = period_days("week", week_key(MONDAY))
    week = [e for e in raw if e["day"] in days and e["pseudonym"] is not None]
    cells, _ = feature_cells("week", "2026-W41", rollup_rows(raw, days), EXACT(k), domain())
    chosen: dict[int, dict[tuple[str, str], int]] = {}
    for person in {e["pseudonym"] for e in week}:
        used: dict[tuple[str, str], int] = defaultdict(int)
        for e in week:
            if e["pseudonym"] == person:
                used[(e["app"] or "(none)", feature_of(e["name"], e["page"]))] += 1
        top = sorted(used.items(), key=lambda kv: (-kv[1], str(kv[0])))[: PERIOD_FEATURES["week"]]
        chosen[person] = dict(top)
    scope_of = {e["pseudonym"]: (e["tenant"], e["user_type"]) for e in week}
    expected: dict[tuple, tuple[int, int]] = {}
    for person, features in chosen.items():
        tenant, user_type = scope_of[person]
        for t in (tenant, ALL):
            for u in (user_type, ALL):
                for feature, n in features.items():
                    users, events = expected.get((t, u, *feature), (0, 0))
                    expected[(t, u, *feature)] = (users + 1, events + min(n, FEATURE_EVENTS))
    listed = {(c.tenant, c.user_type, c.app, c.feature): c for c in cells}
    for key, (users, events) in expected.items():
        if key[0] != ALL and key[1] != ALL:
            assert key not in listed  # features are not released per tenant x user type
        elif users >= k:
            assert (listed[key].users, listed[key].events) == (users, events), key
        else:
            assert key not in listed
    assert all(c.users >= k for c in cells)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), k=st.sampled_from([2, 3, 5]))
def test_cohorts_and_every_grain_end_to_end(make_client, clock, seed, k):
    """The nightly build through Azurite on random raw events over five ISO weeks: day, week and
    month active cells, week features and cohorts equal the brute force (fresh tables each time)."""
    import random

    rng = random.Random(seed)
    client = make_client(AGGREGATE_MIN_USERS=str(k))
    clock.now = datetime(2026, 11, 3, 12, tzinfo=UTC)  # October is closed and final
    start = date(2026, 9, 28)  # Monday of 2026-W40
    raw = []
    users = list(range(1, 61))
    for offset in range(34):  # 2026-09-28 .. 2026-10-31
        day = start + timedelta(days=offset)
        # new users join each week: user u is first active in week (u % 4)
        for user in users:
            if offset // 7 < user % 4 or rng.random() > 0.35:
                continue
            for _ in range(rng.randint(1, 3)):
                spec = {
                    "day": 0,
                    "user": user,
                    "session": rng.randint(0, 1),
                    "name": rng.choice(NAMES),
                    "page": rng.choice(PAGES),
                    "app": rng.choice(APPS),
                }
                event = materialise(spec)
                event["day"] = day
                raw.append(event)
        for _ in range(rng.randint(0, 3)):  # anonymous events: events only, never people
            event = materialise(
                {"day": 0, "user": None, "session": 0, "name": "app.launch", "page": "/home", "app": None},
                rng.randint(0, 2),
            )
            event["day"] = day
            event["session_id"] = f"anon-{rng.randint(0, 9)}"
            raw.append(event)
    keep(
        client.services.tables,
        [
            stored_event(
                datetime(e["day"].year, e["day"].month, e["day"].day, 12, tzinfo=UTC),
                name=e["name"],
                session_id=str(uuid.uuid5(uuid.NAMESPACE_URL, e["session_id"])),
                app=e["app"],
                page=e["page"],
                tenant_ref=e["tenant"],
                user_type=e["user_type"],
                pseudonym=e["pseudonym"],
            )
            for e in raw
        ],
    )
    result = client.services.aggregation.run()
    assert "2026-W41" in result.built_weeks and "2026-10" in [m for m in result.built_months]
    store = client.services.reports._store
    keys = client.services.tables.tenants.ref_map()
    for e in raw:
        e["tenant"] = keys[e["tenant"]]

    def check(grain, period, days):
        scoped = [e for e in raw if e["day"] in days]
        cells = store.active(grain, None, period, period)
        assert cells, (grain, period)
        for c in cells:
            exact = brute_active(scoped, c.tenant, c.user_type, grain=grain)
            if c.hidden:
                assert exact[0] < k and c.events is None
            else:
                assert (c.active_users, c.sessions, c.events) == exact and exact[0] >= k

    for day in (date(2026, 10, 1), date(2026, 10, 14)):
        check("day", day.isoformat(), [day])
    for week in ("2026-W40", "2026-W41", "2026-W42", "2026-W43"):
        check("week", week, period_days("week", week))
    check("month", "2026-10", period_days("month", "2026-10"))

    # week features: every listed feature has k+ people; (other) = the scope's events - listed
    listed: dict[tuple[str, str], int] = defaultdict(int)
    other: dict[tuple[str, str], int] = {}
    for c in store.features("week", None, "2026-W42", "2026-W42"):
        if c.feature == OTHER and c.app == ALL:
            other[(c.tenant, c.user_type)] = c.events
        else:
            assert c.users >= k
            listed[(c.tenant, c.user_type)] += c.events
    for c in store.active("week", None, "2026-W42", "2026-W42"):
        if not c.hidden:
            assert other[(c.tenant, c.user_type)] == max(0, c.events - listed[(c.tenant, c.user_type)])

    # cohorts: first week in the data, per scope; a shown size is exact with k+ people and its
    # active counts exact or hidden (None) — never 0 for "too few"
    weeks = ["2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44"]
    active_in = {
        w: {e["pseudonym"] for e in raw if e["pseudonym"] and e["day"] in period_days("week", w)}
        for w in weeks
    }
    first_week = {}
    scope_of = {}
    for e in sorted(raw, key=lambda e: e["day"]):
        if e["pseudonym"] is not None and e["pseudonym"] not in first_week:
            first_week[e["pseudonym"]] = week_key(e["day"])
            scope_of[e["pseudonym"]] = (e["tenant"], e["user_type"])
    cohorts = store.cohorts(None, "2026-W40", "2026-W44")
    for c in cohorts:
        members = {
            p
            for p, w in first_week.items()
            if w == c.cohort and c.tenant in (ALL, scope_of[p][0]) and c.user_type in (ALL, scope_of[p][1])
        }
        if c.users is None:
            assert len(members) < k and all(v is None for v in c.active)
            continue
        assert c.users == len(members) and c.users >= k
        for i, value in enumerate(c.active, start=1):
            later = week_key(week_start_of(c.cohort) + timedelta(weeks=i))
            if later not in active_in or later > "2026-W44":
                assert value is None
                continue
            exact = len(members & active_in[later])
            assert value == (exact if exact >= k else None), (c, i)


def week_start_of(key: str) -> date:
    return date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
