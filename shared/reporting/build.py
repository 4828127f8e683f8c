"""The nightly build of the report cells: the user-day rollup of a raw day, the day's active-user
cells, and the cells of ISO weeks, months and cohorts as they close (run by the aggregation timer,
docs/reports.md).

* a raw day is scanned **once** (by shared/reporting/aggregates.py); from that scan come the day's
  user-day rollup (raw class: one row per active user, expiring with the raw day) and the day's
  active-user cells;
* an ISO week or a month is built once it closes, from its 7 or 28-31 days' rollups (one row
  per active user per day, far fewer than events), never by rescanning raw events;
* cohorts come from the first-seen-week index (raw class), updated when a week closes.

Every stored cell is a differentially private release (docs/privacy-model.md): each person's
contribution is clipped here, the noise, the shown/hidden decision and the accounting are the
disclosure package's (`shared.privacy.disclosure.releases`), never a comparison with k here. The
`(all)` rows are released in their own right (overall DAU is distinct users across tenants, not a
sum); stickiness and the `(other)` rows are computed from released values only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Literal

from shared.kernel.periods import day_key, period_days, period_key, week_key, week_start
from shared.kernel.settings import USER_TYPES
from shared.privacy.disclosure.releases import (
    ACTIVE_DAY,
    ACTIVE_DAY_EVENTS,
    ACTIVE_DAY_SESSIONS,
    ACTIVE_MONTH,
    ACTIVE_MONTH_EVENTS,
    ACTIVE_MONTH_SESSIONS,
    ACTIVE_WEEK,
    ACTIVE_WEEK_EVENTS,
    ACTIVE_WEEK_SESSIONS,
    COHORT_ACTIVE,
    COHORT_SIZE,
    DAY_EVENTS,
    DAY_SESSIONS,
    FEATURE_EVENTS,
    FEATURES_MONTH,
    FEATURES_MONTH_EVENTS,
    FEATURES_WEEK,
    FEATURES_WEEK_EVENTS,
    PERIOD_EVENTS,
    PERIOD_FEATURES,
    PERIOD_SESSIONS,
    Family,
    Released,
    Releaser,
    clip,
    top_features,
)
from shared.reporting.cells import ALL, NO_APP, NO_TYPE, OTHER, Key, feature_of, scopes
from shared.storage.events import EventFacts
from shared.storage.reports import (
    COHORT_WEEKS,
    ActiveCell,
    CohortCell,
    FeatureCell,
    FirstSeen,
    ReportsStore,
    UserDay,
)

# ---- accumulation --------------------------------------------------------------------------------

USER_TYPE_DOMAIN = (*USER_TYPES, NO_TYPE)
"""The user types a report row can have besides `(all)`: the policy's three and `(none)`."""


@dataclass(frozen=True)
class Domain:
    """The keys a release covers, fixed before the data is read: every tenant of the directory
    (Cegal's customers: business data, not a person's) x every user type, their `(all)` margins,
    and every (app, feature) the catalogues allow. Releasing every key of the domain, zeros
    included, is what makes *which* cells exist reveal nothing (docs/privacy-model.md)."""

    tenants: tuple[str, ...]
    features: tuple[tuple[str, str], ...] = ()

    def scopes(self) -> list[Key]:
        keys: list[Key] = [(ALL, ALL), *((ALL, u) for u in USER_TYPE_DOMAIN)]
        for tenant in self.tenants:
            keys += [(tenant, ALL), *((tenant, u) for u in USER_TYPE_DOMAIN)]
        return keys


def level(key: Key) -> int:
    """Which of a family's four levels a scope is: (tenant, type), (tenant, all), (all, type),
    (all, all) — the order of `releases._levels`."""
    return (2 if key[0] == ALL else 0) + (1 if key[1] == ALL else 0)


def _release[K: tuple[str, ...]](
    releaser: Releaser, families: Mapping[int, Family], exact: dict[K, int]
) -> dict[K, Released]:
    """One release per level: a person is in exactly one scope of each level."""
    by_level: dict[int, dict[K, int]] = {}
    for key, value in exact.items():
        by_level.setdefault(level(key), {})[key] = value
    out: dict[K, Released] = {}
    for position, cells in by_level.items():
        out |= releaser.counts(families[position], cells)
    return out


@dataclass
class BuildCounts:
    """What a build released and hid (for the run result and the tests)."""

    events: int = 0
    active_cells: int = 0
    feature_cells: int = 0
    cohort_cells: int = 0
    suppressed_active_cells: int = 0
    suppressed_feature_cells: int = 0

    def add(self, other: BuildCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_ACTIVE = {
    "day": (ACTIVE_DAY, ACTIVE_DAY_SESSIONS, ACTIVE_DAY_EVENTS),
    "week": (ACTIVE_WEEK, ACTIVE_WEEK_SESSIONS, ACTIVE_WEEK_EVENTS),
    "month": (ACTIVE_MONTH, ACTIVE_MONTH_SESSIONS, ACTIVE_MONTH_EVENTS),
}
_FEATURES = {"week": (FEATURES_WEEK, FEATURES_WEEK_EVENTS), "month": (FEATURES_MONTH, FEATURES_MONTH_EVENTS)}


def _people(rows: Iterable[UserDay]) -> dict[int, list[UserDay]]:
    """Each consented person's rows of the period. Anonymous rows (declined users in anonymous
    mode) are left out of every release: they carry no identity, so one person's share of them
    cannot be bounded, and a release without a bound has no guarantee."""
    people: dict[int, list[UserDay]] = {}
    for row in rows:
        if row.pseudonym is not None:
            people.setdefault(row.pseudonym, []).append(row)
    return people


def active_cells(
    grain: str, period: str, rows: Iterable[UserDay], releaser: Releaser, domain: Domain
) -> tuple[list[ActiveCell], int]:
    """Active users, session-days and events per scope of the domain, released; returns (cells,
    hidden cells). Each person counts once per scope, with sessions and events clipped per day
    (`DAY_SESSIONS`, `DAY_EVENTS`) or per week/month (`PERIOD_SESSIONS`, `PERIOD_EVENTS`)."""
    users: dict[Key, int] = dict.fromkeys(domain.scopes(), 0)
    sessions = dict(users)
    events = dict(users)
    day = grain == "day"
    for person_rows in _people(rows).values():
        first = person_rows[0]
        s = sum(clip(r.sessions, DAY_SESSIONS) if day else r.sessions for r in person_rows)
        e = sum(clip(r.events, DAY_EVENTS) if day else r.events for r in person_rows)
        if not day:
            s, e = clip(s, PERIOD_SESSIONS), clip(e, PERIOD_EVENTS)
        for scope in scopes(first.tenant, first.user_type):
            if scope in users:
                users[scope] += 1
                sessions[scope] += s
                events[scope] += e
    user_families, session_families, event_families = _ACTIVE[grain]
    released_users = _release(releaser, user_families, users)
    shown = [key for key, people in released_users.items() if not people.hidden]
    released_sessions = _release(releaser, session_families, {key: sessions[key] for key in shown})
    released_events = _release(releaser, event_families, {key: events[key] for key in shown})
    cells = []
    hidden = 0
    for key in users:
        people = released_users[key]
        hidden += people.hidden
        if people.hidden:
            cells.append(ActiveCell(grain, period, key[0], key[1], None, None, None))
            continue
        cells.append(
            ActiveCell(
                grain,
                period,
                key[0],
                key[1],
                people.value,
                released_sessions[key].value,
                released_events[key].value,
                moe=(people.moe, released_sessions[key].moe, released_events[key].moe),
            )
        )
    return cells, hidden


def feature_cells(
    grain: str, period: str, rows: Iterable[UserDay], releaser: Releaser, domain: Domain
) -> tuple[list[FeatureCell], int]:
    """Users and events per scope x (app, feature) of the domain — per tenant, per user type and
    overall (`FEATURE_LEVELS`: not per tenant x user type) — released. Only shown cells are
    returned (a feature nobody could see is not listed). Each person counts in at most
    `PERIOD_FEATURES[grain]` features (their most used), with at most `FEATURE_EVENTS` events
    each."""
    features = domain.features
    allowed = set(features)
    user_families, event_families = _FEATURES[grain]
    users: dict[tuple[str, ...], int] = {
        (*scope, app, feature): 0
        for scope in domain.scopes()
        if level(scope) in user_families
        for app, feature in features
    }
    events = dict(users)
    for person_rows in _people(rows).values():
        totals: dict[tuple[str, str], int] = {}
        for row in person_rows:
            for feature, n in row.features.items():
                if feature in allowed:
                    totals[feature] = totals.get(feature, 0) + n
        first = person_rows[0]
        for feature in top_features(totals, PERIOD_FEATURES[grain]):
            for scope in scopes(first.tenant, first.user_type):
                key = (*scope, *feature)
                if key in users:
                    users[key] += 1
                    events[key] += clip(totals[feature], FEATURE_EVENTS)
    released_users = _release(releaser, user_families, users)
    # events only where the users are shown: a hidden feature's events are never published, and
    # choosing the keys from a release is post-processing (half the noise draws saved)
    shown = {key: events[key] for key, people in released_users.items() if not people.hidden}
    released_events = _release(releaser, event_families, shown)
    cells = []
    for key, people in released_users.items():
        if not people.hidden:
            cells.append(
                FeatureCell(
                    grain,
                    period,
                    key[0],
                    key[1],
                    key[2],
                    key[3],
                    people.value or 0,
                    released_events[key].value or 0,
                    moe=(people.moe, released_events[key].moe),
                )
            )
    return cells, len(users) - len(cells)


@dataclass
class _DayUser:
    sessions: set[str] = field(default_factory=set)
    events: int = 0
    features: dict[tuple[str, str], int] = field(default_factory=dict)


class DayRollup:
    """Accumulates one raw day, event by event, into user-day rows (fed by the aggregation scan)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, int | None], _DayUser] = {}

    def add(self, facts: EventFacts) -> None:
        pseudonym = facts.pseudonym
        key = (facts.tenant_ref, facts.user_type or NO_TYPE, pseudonym)
        user = self._rows.get(key)
        if user is None:
            user = self._rows[key] = _DayUser()
        user.events += 1
        if pseudonym is not None and facts.session_id:
            user.sessions.add(facts.session_id)
        feature = (facts.app or NO_APP, feature_of(facts.name, facts.page))
        user.features[feature] = user.features.get(feature, 0) + 1

    @property
    def refs(self) -> set[str]:
        return {ref for ref, _, _ in self._rows}

    def rows(self, keys: dict[str, str]) -> list[UserDay]:
        """User-day rows with the stable tenant key instead of the salt-derived reference.
        Anonymous events count in events only: never as a user, never in sessions."""
        return [
            UserDay(keys[ref], user_type, pseudonym, len(u.sessions), u.events, u.features)
            for (ref, user_type, pseudonym), u in self._rows.items()
        ]


# ---- build ----------------------------------------------------------------------------------------


class ReportBuilder:
    """Releases the report cells; called by shared.reporting.aggregates.Aggregation.

    A period is released **once**: when it has closed (a day once final, a week or month once
    its last day is), its cells are drawn through the disclosure package and stored, and a later
    rebuild (ops, catch-up) keeps the stored release instead of drawing again — asking twice
    must not average the noise away (docs/privacy-model.md, "Released once")."""

    def __init__(
        self,
        store: ReportsStore,
        releaser: Releaser,
        domain: Callable[[], Domain] = lambda: Domain(()),
    ) -> None:
        self._store = store
        self._releaser = releaser
        self._domain = domain

    def _released(self, kind: str, period: str) -> bool:
        state = self._store.period_state(kind, period)
        return state is not None and state.final

    def build_day(self, day: date, rows: list[UserDay], *, final: bool) -> BuildCounts:
        """The day's rollup always (raw class, for weeks, months, erasure); its release only once
        the day is final (no more events can arrive) and not released before."""
        self._store.replace_user_days(day, rows)
        period = day_key(day)
        counts = BuildCounts(events=sum(r.events for r in rows))
        if not final or self._released("active-day", period):
            return counts
        domain = self._domain()
        cells, hidden = active_cells("day", period, rows, self._releaser, _with_tenants(domain, rows))
        self._store.replace_active("day", period, cells)
        self._store.save_period_state("active-day", period, final=True, tenants={c.tenant for c in cells})
        counts.active_cells, counts.suppressed_active_cells = len(cells) - hidden, hidden
        return counts

    def build_period(self, grain: Literal["week", "month"], period: str) -> BuildCounts:
        """A closed week or month from its days' rollups (never a rescan of raw events); kept as
        released if it was released before."""
        if self._released(f"active-{grain}", period):
            return BuildCounts()
        days = period_days(grain, period)
        rows = [row for day in days for row in self._store.user_days(day)]
        domain = _with_tenants(self._domain(), rows)
        # the feature release (~90,000 draws a week in native code) runs while the active cells
        # and cohorts are released and written; the period is marked released only after both
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="features") as background:
            drawing = background.submit(feature_cells, grain, period, rows, self._releaser, domain)
            active, hidden_active = active_cells(grain, period, rows, self._releaser, domain)
            active = _with_stickiness(
                active, self._store.active("day", None, day_key(days[0]), day_key(days[-1])), len(days)
            )
            self._store.replace_active(grain, period, active)
            cohort_cells = self._cohorts(period, rows, domain) if grain == "week" else 0
            features, hidden_features = drawing.result()
        features += _other_rows(grain, period, active, features)
        self._store.replace_features(grain, period, features)
        counts = BuildCounts(
            events=sum(r.events for r in rows),
            active_cells=len(active) - hidden_active,
            feature_cells=len(features),
            cohort_cells=cohort_cells,
            suppressed_active_cells=hidden_active,
            suppressed_feature_cells=hidden_features,
        )
        self._store.save_period_state(
            f"active-{grain}", period, final=True, tenants={c.tenant for c in active}
        )
        return counts

    def _cohorts(self, week: str, rows: list[UserDay], domain: Domain) -> int:
        """Update the first-seen index with the week's users, then release the cohort cells: the
        new cohort's size per scope, and for each of the 12 cohorts before it, how many of its
        members are active now (one release per closing week: a person is in one cohort)."""
        index = self._store.first_seen()
        active: dict[int, tuple[str, str]] = {}
        for row in rows:
            if row.pseudonym is not None:
                active.setdefault(row.pseudonym, (row.tenant, row.user_type))
        changed = []
        for pseudonym, (tenant, user_type) in active.items():
            seen = index.get(pseudonym)
            if seen is None:
                seen = FirstSeen(tenant, pseudonym, user_type, week, week)
            elif seen.last_seen < week:
                seen = FirstSeen(seen.tenant, pseudonym, seen.user_type, seen.cohort, week)
            else:
                continue
            index[pseudonym] = seen
            changed.append(seen)
        self._store.write_first_seen(changed)

        members: dict[str, dict[Key, set[int]]] = {}
        for seen in index.values():
            if seen.cohort:
                scoped = members.setdefault(seen.cohort, {})
                for scope in scopes(seen.tenant, seen.user_type):
                    scoped.setdefault(scope, set()).add(seen.pseudonym)
        start = week_start(week)
        new = members.get(week, {})
        sizes = _release(self._releaser, COHORT_SIZE, {s: len(new.get(s, ())) for s in domain.scopes()})
        cells = [
            CohortCell(week, s[0], s[1], r.value, (None,) * COHORT_WEEKS, moe=(r.moe, 0.0))
            for s, r in sizes.items()
        ]
        self._store.replace_cohort(week, cells)
        written = len(cells)
        now_active = set(active)
        earlier: dict[tuple[str, str, str], CohortCell] = {}
        returning: dict[tuple[str, str, str], int] = {}
        for offset in range(1, COHORT_WEEKS + 1):
            cohort = week_key(start - timedelta(weeks=offset))
            scoped = members.get(cohort, {})
            for cell in self._store.cohorts(None, cohort, cohort):
                key = (cell.tenant, cell.user_type, cohort)
                earlier[key] = cell
                returning[key] = len(scoped.get((cell.tenant, cell.user_type), set()) & now_active)
        released = _release(self._releaser, COHORT_ACTIVE, returning)
        updated = []
        for key, cell in earlier.items():
            offset = (start - week_start(cell.cohort)).days // 7
            values = list(cell.active)
            values[offset - 1] = released[key].value if cell.users is not None else None
            updated.append(
                CohortCell(
                    cell.cohort,
                    cell.tenant,
                    cell.user_type,
                    cell.users,
                    tuple(values),
                    moe=(cell.moe[0], released[key].moe),
                )
            )
        self._store.update_cohort(updated)
        written += len(updated)
        self._store.save_period_state("cohort", week, final=True, tenants={c.tenant for c in cells})
        return written

    def expire(self, keep_from: date) -> tuple[int, int]:
        """Retention for the raw-class report data: drop rollup days before `keep_from`, forget
        first-seen weeks that left the window, and users not seen since. Returns (days, users)."""
        days = [d for d in self._store.user_day_days() if d < keep_from]
        for day in days:
            self._store.drop_user_days(day)
        cutoff = week_key(keep_from)
        index = self._store.first_seen().values()
        gone = [s for s in index if s.last_seen < cutoff]
        self._store.delete_first_seen(gone)
        self._store.write_first_seen(
            FirstSeen(s.tenant, s.pseudonym, s.user_type, "", s.last_seen)
            for s in index
            if s.last_seen >= cutoff and s.cohort and s.cohort < cutoff
        )
        return len(days), len(gone)


def _with_tenants(domain: Domain, rows: Iterable[UserDay]) -> Domain:
    """The directory's tenants and any tenant of the rows not in it yet (a tenant's first day is
    built before the directory notes it; both are the set of tenants ever seen)."""
    extra = sorted({r.tenant for r in rows if r.pseudonym is not None} - set(domain.tenants))
    return Domain((*domain.tenants, *extra), domain.features) if extra else domain


def _with_stickiness(cells: list[ActiveCell], days: list[ActiveCell], length: int) -> list[ActiveCell]:
    """Stickiness (mean daily active users / the period's active users) from released values
    only (post-processing): shown when every day of the period and the period itself are shown."""
    by_scope: dict[Key, list[int]] = {}
    for day in days:
        if day.active_users is not None:
            by_scope.setdefault((day.tenant, day.user_type), []).append(day.active_users)
    out = []
    for cell in cells:
        daily = by_scope.get((cell.tenant, cell.user_type), [])
        sticky = None
        if cell.active_users and len(daily) == length:
            sticky = round(min(1.0, sum(daily) / length / cell.active_users), 4)
        out.append(replace(cell, stickiness=sticky))
    return out


def _other_rows(
    grain: str, period: str, active: list[ActiveCell], features: list[FeatureCell]
) -> list[FeatureCell]:
    """Per shown scope, the events not in a shown feature: the scope's released events minus its
    shown features' released events (post-processing, at least 0)."""
    shown: dict[Key, int] = {}
    for f in features:
        shown[(f.tenant, f.user_type)] = shown.get((f.tenant, f.user_type), 0) + (f.events or 0)
    return [
        FeatureCell(
            grain,
            period,
            c.tenant,
            c.user_type,
            ALL,
            OTHER,
            0,
            max(0, c.events - shown.get((c.tenant, c.user_type), 0)),
            moe=(0.0, c.moe[2]),
        )
        for c in active
        if c.events is not None
    ]


class Closing:
    """Which weeks and months a run builds (shared by the timer and ops rebuilds)."""

    def __init__(self, store: ReportsStore, final_at: Callable[[date], datetime]) -> None:
        self._store = store
        self._final_at = final_at

    def due(
        self,
        grain: Literal["week", "month"],
        days: Iterable[date],
        now: datetime,
        retained_from: date,
        forced: tuple[date, date] | None,
    ) -> list[str]:
        built = self._store.built_periods(f"active-{grain}")
        due = []
        for period in sorted({period_key(grain, d) for d in days}):
            covered = period_days(grain, period)
            if covered[0] < retained_from or now < self._final_at(covered[-1]):
                continue  # some raw days are gone (cells stay as built), or not closed yet
            force = forced is not None and forced[0] <= covered[0] and covered[-1] <= forced[1]
            if force or not built.get(period):
                due.append(period)
        return due
