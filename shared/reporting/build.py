"""The nightly build of the report cells: the user-day rollup of a raw day, the day's active-user
cells, and the cells of ISO weeks, months and cohorts as they close (run by the aggregation timer,
docs/reports.md).

* a raw day is scanned **once** (by shared/reporting/aggregates.py); from that scan come the day's
  user-day rollup (raw class: one row per active user, expiring with the raw day) and the day's
  active-user cells;
* an ISO week or a month is built once it closes, from its 7 or 28-31 days' rollups (one row
  per active user per day, far fewer than events), never by rescanning raw events;
* cohorts come from the first-seen-week index (raw class), updated when a week closes.

The `(all)` rows are computed exactly from the sets at build time (overall DAU is distinct
users across tenants, not a sum). The k rule per report is docs/reports.md; every cell is kept or
suppressed by the disclosure package (`shared.privacy.disclosure.protect`), never by a comparison
with k here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from shared.kernel.periods import day_key, period_days, period_key, week_key, week_start
from shared.privacy.disclosure import protect
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


@dataclass
class _Acc:
    users: set[int] = field(default_factory=set)
    sessions: int = 0
    events: int = 0
    user_days: int = 0


@dataclass
class BuildCounts:
    """What a build kept and suppressed (for the run result and the property tests)."""

    events: int = 0
    active_cells: int = 0
    feature_cells: int = 0
    cohort_cells: int = 0
    suppressed_active_cells: int = 0
    suppressed_feature_cells: int = 0

    def add(self, other: BuildCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def active_cells(grain: str, period: str, rows: Iterable[UserDay], k: int) -> tuple[list[ActiveCell], int]:
    """Active users, session-days and events per scope; returns (kept cells, suppressed cells)."""
    acc: dict[Key, _Acc] = {}
    for row in rows:
        for scope in scopes(row.tenant, row.user_type):
            cell = acc.get(scope)
            if cell is None:
                cell = acc[scope] = _Acc()
            if row.pseudonym is not None:
                cell.users.add(row.pseudonym)
                cell.user_days += 1
            cell.sessions += row.sessions
            cell.events += row.events
    kept = protect({key: cell.users for key, cell in acc.items()}, k)
    cells = [
        ActiveCell(grain, period, key[0], key[1], len(c.users), c.sessions, c.events, c.user_days)
        for key, c in sorted(acc.items())
        if key in kept
    ]
    return cells, len(acc) - len(kept)


def feature_cells(
    grain: str, period: str, rows: Iterable[UserDay], k: int, shown_scopes: set[Key]
) -> tuple[list[FeatureCell], int]:
    """Users and events per scope x (app, feature); features used by fewer than k people in a
    scope are suppressed, and their events are kept as that scope's `(other)` row (events only,
    users 0) when the scope itself is shown, so shown + `(other)` = the scope's events."""
    acc: dict[Key, _Acc] = {}
    for row in rows:
        for scope in scopes(row.tenant, row.user_type):
            for (app, feature), events in row.features.items():
                key = (*scope, app, feature)
                cell = acc.get(key)
                if cell is None:
                    cell = acc[key] = _Acc()
                if row.pseudonym is not None:
                    cell.users.add(row.pseudonym)
                cell.events += events
    kept = protect({key: cell.users for key, cell in acc.items()}, k)
    cells = [
        FeatureCell(grain, period, key[0], key[1], key[2], key[3], len(c.users), c.events)
        for key, c in sorted(acc.items())
        if key in kept
    ]
    other: dict[Key, int] = {}
    for key, c in acc.items():
        if key not in kept and key[:2] in shown_scopes:
            other[key[:2]] = other.get(key[:2], 0) + c.events
    cells += [
        FeatureCell(grain, period, scope[0], scope[1], ALL, OTHER, 0, events)
        for scope, events in sorted(other.items())
    ]
    return cells, len(acc) - len(kept)


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
    """Writes the report cells; called by shared.reporting.aggregates.Aggregation."""

    def __init__(self, store: ReportsStore, k: int) -> None:
        self._store = store
        self._k = k

    def build_day(self, day: date, rows: list[UserDay], *, final: bool) -> BuildCounts:
        self._store.replace_user_days(day, rows)
        period = day_key(day)
        cells, suppressed = active_cells("day", period, rows, self._k)
        self._store.replace_active("day", period, cells)
        self._store.save_period_state("active-day", period, final=final, tenants={c.tenant for c in cells})
        return BuildCounts(
            events=sum(r.events for r in rows),
            active_cells=len(cells),
            suppressed_active_cells=suppressed,
        )

    def build_period(self, grain: Literal["week", "month"], period: str) -> BuildCounts:
        """A closed week or month from its days' rollups (never a rescan of raw events)."""
        rows = [row for day in period_days(grain, period) for row in self._store.user_days(day)]
        active, suppressed_active = active_cells(grain, period, rows, self._k)
        shown: set[Key] = {(c.tenant, c.user_type) for c in active}
        features, suppressed_features = feature_cells(grain, period, rows, self._k, shown)
        self._store.replace_active(grain, period, active)
        self._store.replace_features(grain, period, features)
        counts = BuildCounts(
            events=sum(r.events for r in rows),
            active_cells=len(active),
            feature_cells=len(features),
            suppressed_active_cells=suppressed_active,
            suppressed_feature_cells=suppressed_features,
        )
        if grain == "week":
            counts.cohort_cells = self._cohorts(period, rows)
        self._store.save_period_state(
            f"active-{grain}", period, final=True, tenants={c.tenant for c in active}
        )
        return counts

    def _cohorts(self, week: str, rows: list[UserDay]) -> int:
        """Update the first-seen index with the week's users, then the cohort cells: the new cohort
        (its size per scope), and for the 12 cohorts before it, how many of them are active now."""
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
        written = 0
        new = members.get(week, {})
        kept = protect(new, self._k)
        # a rebuild of an older week keeps what later weeks already filled in
        before: dict[Key, tuple[int, ...]] = {
            (c.tenant, c.user_type): c.active for c in self._store.cohorts(None, week, week)
        }
        self._store.replace_cohort(
            week,
            [
                CohortCell(week, s[0], s[1], len(new[s]), before.get(s, (0,) * COHORT_WEEKS))
                for s in sorted(kept)
            ],
        )
        written += len(kept)
        now_active = set(active)
        for offset in range(1, COHORT_WEEKS + 1):
            cohort = week_key(start - timedelta(weeks=offset))
            cells = {(c.tenant, c.user_type): c for c in self._store.cohorts(None, cohort, cohort)}
            if not cells:
                continue
            scoped = members.get(cohort, {})
            returning: dict[Key, set[int]] = {s: scoped.get(s, set()) & now_active for s in cells}
            shown = protect(returning, self._k)
            updated = []
            for s, cell in cells.items():
                values = list(cell.active)
                values[offset - 1] = len(returning[s]) if s in shown else 0
                updated.append(
                    CohortCell(cell.cohort, cell.tenant, cell.user_type, cell.users, tuple(values))
                )
            self._store.update_cohort(updated)
            written += len(updated)
        self._store.save_period_state("cohort", week, final=True, tenants={c[0] for c in kept})
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
