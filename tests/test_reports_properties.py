"""Every report metric against an independent brute-force computation over random raw events.

The brute force below never uses the rollup, the cells or `protect`: it counts straight from
the raw events. Properties: every kept cell's counts are exact; no kept count of people is
1..k-1; kept + suppressed = raw totals; the `(all)` margins never let a suppressed cell be
recovered by subtraction. The first tests run the pure pipeline (hundreds of examples), the last
runs the whole nightly build through Azurite (fewer examples: every one writes tables).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.ingestion.ingest import keep
from shared.kernel.periods import period_days, week_key
from shared.privacy.disclosure import protect
from shared.reporting.build import DayRollup, active_cells, feature_cells
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


def brute_active(raw: list[dict], tenant: str, user_type: str) -> tuple[int, int, int]:
    """(distinct consented users, distinct session-days of consented users, all events)."""
    scoped = [e for e in raw if in_scope(e, tenant, user_type)]
    users = {e["pseudonym"] for e in scoped if e["pseudonym"] is not None}
    sessions = {(e["day"], e["session_id"]) for e in scoped if e["pseudonym"] is not None}
    return len(users), len(sessions), len(scoped)


def scopes_of(raw: list[dict]) -> set[tuple[str, str]]:
    out = set()
    for e in raw:
        for t in (e["tenant"], ALL):
            for u in (e["user_type"], ALL):
                out.add((t, u))
    return out


def check_margins(counts: dict[tuple, int], kept: set[tuple], k: int, members: dict[tuple, set]) -> None:
    """No kept parent minus its kept children (by counts or by sets) leaves 1..k-1 people."""
    for parent in kept:
        for position in (0, 1):
            if parent[position] != ALL:
                continue
            children = [
                c
                for c in kept
                if c[position] != ALL
                and c[:position] + c[position + 1 :] == parent[:position] + parent[position + 1 :]
            ]
            if not children:
                continue
            by_counts = counts[parent] - sum(counts[c] for c in children)
            by_sets = len(members[parent] - set().union(*(members[c] for c in children)))
            assert not 0 < by_counts < k, (parent, position)
            assert not 0 < by_sets < k, (parent, position)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(raw_event, max_size=250), k=st.sampled_from([2, 3, 5]))
def test_active_cells_equal_brute_force(specs, k):
    raw = [materialise(s, i) for i, s in enumerate(specs)]
    days = period_days("week", week_key(MONDAY))
    week = [e for e in raw if e["day"] in days]
    cells, suppressed = active_cells("week", "2026-W41", rollup_rows(raw, days), k)
    kept = {(c.tenant, c.user_type): c for c in cells}
    members = {
        s: {e["pseudonym"] for e in week if in_scope(e, *s) and e["pseudonym"] is not None}
        for s in scopes_of(week)
    }
    for scope, cell in kept.items():
        assert (cell.active_users, cell.sessions, cell.events) == brute_active(week, *scope)
        assert cell.active_users >= k
        user_days = {(e["day"], e["pseudonym"]) for e in week if in_scope(e, *scope) and e["pseudonym"]}
        assert cell.user_days == len(user_days)
    # kept + suppressed = every scope that has data
    assert len(kept) + suppressed == len(scopes_of(week))
    # the grand total is kept exactly whenever it describes k people or more
    total = brute_active(week, ALL, ALL)
    if total[0] >= k:
        assert (kept[(ALL, ALL)].active_users, kept[(ALL, ALL)].events) == (total[0], total[2])
    else:
        assert (ALL, ALL) not in kept
    # a scope of k+ people is only missing when subtraction would have revealed a small one
    check_margins({s: len(m) for s, m in members.items()}, set(kept), k, members)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(raw_event, max_size=250), k=st.sampled_from([2, 3, 5]))
def test_feature_cells_equal_brute_force(specs, k):
    raw = [materialise(s, i) for i, s in enumerate(specs)]
    days = period_days("week", week_key(MONDAY))
    week = [e for e in raw if e["day"] in days]
    rows = rollup_rows(raw, days)
    active, _ = active_cells("week", "2026-W41", rows, k)
    shown = {(c.tenant, c.user_type) for c in active}
    cells, suppressed = feature_cells("week", "2026-W41", rows, k, shown)
    features = defaultdict(list)
    for e in week:
        feature = (e["app"] or "(none)", feature_of(e["name"], e["page"]))
        for t in (e["tenant"], ALL):
            for u in (e["user_type"], ALL):
                features[(t, u, *feature)].append(e)
    kept = {}
    other = {}
    for c in cells:
        if c.feature == OTHER and c.app == ALL:
            other[(c.tenant, c.user_type)] = c.events
            assert c.users == 0
            continue
        kept[(c.tenant, c.user_type, c.app, c.feature)] = c
    for key, cell in kept.items():
        events = features[key]
        users = {e["pseudonym"] for e in events if e["pseudonym"] is not None}
        assert (cell.users, cell.events) == (len(users), len(events))
        assert cell.users >= k
    assert len(kept) + suppressed == len(features)
    # kept + suppressed = raw: in every shown scope, listed features + (other) = the scope's events
    for scope in shown:
        listed = sum(c.events for key, c in kept.items() if key[:2] == scope)
        assert listed + other.get(scope, 0) == brute_active(week, *scope)[2]
    members = {
        key: {e["pseudonym"] for e in events if e["pseudonym"] is not None}
        for key, events in features.items()
    }
    check_margins({key: len(m) for key, m in members.items()}, set(kept), k, members)


@settings(max_examples=500, deadline=None)
@given(
    sets=st.dictionaries(
        st.tuples(st.sampled_from(["a", "b", "c", ALL]), st.sampled_from(["x", "y", ALL])),
        st.sets(st.integers(0, 30), max_size=20),
        max_size=12,
    ),
    k=st.integers(2, 6),
)
def test_protect_keeps_only_k_plus_cells_and_no_small_differences(sets, k):
    # make the (all) rows true unions of their children, as the build does
    users = dict(sets)
    for (t, u), members in sets.items():
        for scope in ((t, ALL), (ALL, u), (ALL, ALL)):
            users.setdefault(scope, set())
            users[scope] = users[scope] | members
    kept = protect(users, k)
    assert all(len(users[key]) >= k for key in kept)
    assert all(key in kept for key in users if key == (ALL, ALL) and len(users[key]) >= k)
    check_margins({key: len(m) for key, m in users.items()}, kept, k, users)


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
        cells = [c for c in store.active(grain, None, period, period)]
        total = brute_active(scoped, ALL, ALL)
        if not cells:  # the whole period describes fewer than k people: nothing may be kept
            assert total[0] < k, (grain, period)
            return
        for c in cells:
            assert (c.active_users, c.sessions, c.events) == brute_active(scoped, c.tenant, c.user_type)
            assert c.active_users >= k
        grand = next(c for c in cells if (c.tenant, c.user_type) == (ALL, ALL))
        assert grand.events == total[2]

    for day in (date(2026, 10, 1), date(2026, 10, 14)):
        check("day", day.isoformat(), [day])
    for week in ("2026-W40", "2026-W41", "2026-W42", "2026-W43"):
        check("week", week, period_days("week", week))
    check("month", "2026-10", period_days("month", "2026-10"))

    # week features: exact users and events of every listed feature, (other) completes the scope
    week = [e for e in raw if e["day"] in period_days("week", "2026-W42")]
    listed: dict[tuple[str, str], int] = defaultdict(int)
    for c in store.features("week", None, "2026-W42", "2026-W42"):
        scoped = [e for e in week if in_scope(e, c.tenant, c.user_type)]
        if c.feature == OTHER and c.app == ALL:
            listed[(c.tenant, c.user_type)] += c.events
            continue
        hits = [
            e
            for e in scoped
            if (e["app"] or "(none)", feature_of(e["name"], e["page"])) == (c.app, c.feature)
        ]
        assert c.users == len({e["pseudonym"] for e in hits if e["pseudonym"]}) and c.users >= k
        assert c.events == len(hits)
        listed[(c.tenant, c.user_type)] += c.events
    for c in store.active("week", None, "2026-W42", "2026-W42"):
        assert listed[(c.tenant, c.user_type)] == c.events

    # cohorts: first week in the data, per scope; active[i] exact or 0 (never 1..k-1)
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
    shown = {c.cohort for c in cohorts if (c.tenant, c.user_type) == (ALL, ALL)}
    for week in weeks:  # a cohort of k or more people always has its overall row
        size = sum(1 for w in first_week.values() if w == week)
        assert (week in shown) == (size >= k), week
    for c in cohorts:
        members = {
            p
            for p, w in first_week.items()
            if w == c.cohort and c.tenant in (ALL, scope_of[p][0]) and c.user_type in (ALL, scope_of[p][1])
        }
        assert c.users == len(members) and c.users >= k
        for i, value in enumerate(c.active, start=1):
            later = week_key(week_start_of(c.cohort) + timedelta(weeks=i))
            exact = len(members & active_in.get(later, set()))
            assert value in (0, exact) and (value == 0 or value >= k)
            if later not in active_in:
                assert value == 0


def week_start_of(key: str) -> date:
    return date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
