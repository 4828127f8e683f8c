"""Reports: active users, feature adoption, cohort retention, onboarding and launch impact.

Purpose (privacy at a glance): analytics exist "to understand how Cetegra Workspace is used and
where the product can be improved", "so that usage patterns can be analysed per user type over
time". Everything a report shows comes from kept aggregates ("aggregated usage statistics (with
no link to individual users)"): counts only, every count of people 0 or at least k.

Build side (`ReportBuilder`, run by the aggregation timer, docs/reports.md):

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

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.errors import BadRequest, NotFound
from shared.kernel.logs import log
from shared.kernel.periods import day_key, period_days, period_key, week_key, week_start
from shared.kernel.settings import USER_TYPES
from shared.privacy.disclosure import MARGIN, protect
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
from shared.storage.tenants import TenantStore

LOG = logging.getLogger("cetegra.reports")

ALL = MARGIN
"""A report row's `(all)`: the exact margin the disclosure rule (`protect`) reads."""
OTHER, NO_APP, NO_TYPE = "(other)", "(none)", "(none)"
PAGE_VIEW = "nav.page_view"
Grain = Literal["day", "week", "month"]
Key = tuple[str, ...]


# ---- periods ---------------------------------------------------------------------------------


def feature_of(name: str, page: str | None) -> str:
    """A feature is the event name, or for a page view the page's route template."""
    if name == PAGE_VIEW and page:
        return page
    return name


# ---- scopes ----------------------------------------------------------------------------------------


def scopes(tenant: str, user_type: str) -> tuple[Key, Key, Key, Key]:
    """The four rows a user-day counts in: its own and the three `(all)` roll-ups."""
    return (tenant, user_type), (tenant, ALL), (ALL, user_type), (ALL, ALL)


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


# ---- read side: queries ---------------------------------------------------------------------------

UserTypeFilter = Literal["it_admin", "advanced_user", "basic_user", "(all)"]
assert set(USER_TYPES) < set(UserTypeFilter.__args__)  # type: ignore[attr-defined]
TENANT_FILTER = r"^(k[0-9a-f]{16}|\(all\)|\*)$"
APP_FILTER = r"^([a-z0-9][a-z0-9_-]{0,39}|\(none\)|\(unlisted\))$"
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
"""Dates a report accepts (far-away dates would only overflow the calendar arithmetic)."""
MAX_DAYS: dict[str, int] = {"day": 400, "week": 7 * 160, "month": 3700}
"""Range caps: ~13 months of days, ~3 years of weeks, ~10 years of months per request."""


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(
        None,
        alias="from",
        ge=EARLIEST,
        le=LATEST,
        description="First day (YYYY-MM-DD); default: a window before `to`",
    )
    to: date | None = Field(
        None, ge=EARLIEST, le=LATEST, description="Last day (YYYY-MM-DD); default: yesterday (UTC)"
    )
    tenant: str | None = Field(
        None,
        pattern=TENANT_FILTER,
        description="A key from /api/reports/tenants, or `*` for every tenant; default: `(all)` only",
    )
    user_type: UserTypeFilter | None = Field(None, description="Default: every user type and `(all)`")


class ActiveUsersQuery(_Query):
    model_config = ConfigDict(title="ActiveUsersQuery")

    grain: Grain = "day"


class FeaturesQuery(_Query):
    model_config = ConfigDict(title="FeaturesQuery")

    grain: Literal["week", "month"] = "week"
    app: str | None = Field(None, pattern=APP_FILTER, description="Only this app's features")


class RetentionQuery(_Query):
    model_config = ConfigDict(title="RetentionQuery")


class OnboardingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", title="OnboardingQuery")

    tenant: str = Field(pattern=r"^k[0-9a-f]{16}$", description="The tenant key")
    weeks: int = Field(12, ge=1, le=104, description="Weeks from the tenant's first week")


class LaunchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="LaunchQuery")

    feature: str = Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")
    app: str | None = Field(None, pattern=APP_FILTER)
    day: date = Field(
        alias="date", ge=EARLIEST, le=LATEST, description="Launch day: its ISO week is the first week 'after'"
    )
    weeks: int = Field(4, ge=1, le=26, description="Weeks before and after")
    tenant: str | None = Field(None, pattern=TENANT_FILTER.replace(r"|\*", ""))
    user_type: UserTypeFilter = "(all)"


# ---- read side: responses ---------------------------------------------------------------------------


class ActiveRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    active_users: int
    sessions: int
    events: int
    stickiness: float | None = None
    """Week and month rows: mean daily active users / the period's active users (DAU/WAU,
    DAU/MAU), exact: from the period's user-days counted at build time."""


class _PeriodReport(BaseModel):
    """The head of the active-users and features reports: the grain and range they cover and the k
    every count of people in them obeys ("0 or >= k"). (One class, one wire shape for both.)"""

    grain: str
    from_: date = Field(serialization_alias="from")
    to: date
    k: int


class ActiveUsersReport(_PeriodReport):
    model_config = ConfigDict(title="ActiveUsersReport")

    rows: list[ActiveRow]


class FeatureRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    app: str
    feature: str
    users: int
    events: int
    share: float | None
    """users / active users of the same scope and period (None if that count is not shown)."""


class OtherRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    events: int
    """Events of features that fewer than k people used in this scope (not shown one by one)."""


class FeaturesReport(_PeriodReport):
    model_config = ConfigDict(title="FeaturesReport")

    rows: list[FeatureRow]
    other: list[OtherRow]


class CohortRow(BaseModel):
    cohort: str
    tenant: str
    user_type: str
    users: int
    active: list[int]
    """Of `users`, how many were active 1..12 weeks later; 0 also stands for 1..k-1 people."""
    weeks_elapsed: int
    """How many of the 12 weeks have closed (later entries are not known yet)."""


class RetentionReport(BaseModel):
    model_config = ConfigDict(title="RetentionReport")

    from_: date = Field(serialization_alias="from")
    to: date
    k: int
    rows: list[CohortRow]


class TenantRow(BaseModel):
    tenant: str
    name: str | None
    first_seen: date | None


class TenantsReport(BaseModel):
    model_config = ConfigDict(title="TenantsReport")

    tenants: list[TenantRow]


class OnboardingRow(BaseModel):
    week: str
    active_users: int
    sessions: int
    events: int
    features_adopted: int
    new_features: list[str]


class OnboardingReport(BaseModel):
    model_config = ConfigDict(title="OnboardingReport")

    tenant: str
    name: str | None
    first_seen: date | None
    k: int
    rows: list[OnboardingRow]


class LaunchRow(BaseModel):
    week: str
    offset: int
    """Weeks relative to the launch week (0 = the week containing `date`)."""
    phase: Literal["before", "after"]
    users: int
    events: int
    share: float | None


class LaunchSummary(BaseModel):
    users_before: float | None
    users_after: float | None
    share_before: float | None
    share_after: float | None


class LaunchReport(BaseModel):
    model_config = ConfigDict(title="LaunchReport")

    feature: str
    app: str | None
    day: date = Field(serialization_alias="date")
    tenant: str
    user_type: str
    k: int
    rows: list[LaunchRow]
    summary: LaunchSummary


# ---- read side ------------------------------------------------------------------------------------


def _range(
    query: _Query, today: date, default_days: int, cap: int, field_name: str = "from"
) -> tuple[date, date]:
    last = query.to or today - timedelta(days=1)
    first = query.from_ or last - timedelta(days=default_days - 1)
    if first > last:
        raise BadRequest("'from' is after 'to'", code="invalid_value", field="from")
    if (last - first).days >= cap:
        raise BadRequest(
            f"at most {cap} days per request at this grain", code="range_too_long", field=field_name
        )
    return first, last


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class ReportReader:
    def __init__(
        self, store: ReportsStore, directory: TenantStore, k: int, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._directory = directory
        self._k = k
        self._clock = clock

    def _today(self) -> date:
        return self._clock().date()

    @staticmethod
    def _partitions(tenant: str | None) -> list[str | None]:
        if tenant is None:
            return [ALL]
        return [None] if tenant == "*" else [tenant]

    def tenants(self) -> TenantsReport:
        entries = self._directory.tenants()
        entries.sort(key=lambda e: ((e.name or "\uffff").casefold(), e.key))
        return TenantsReport(
            tenants=[TenantRow(tenant=e.key, name=e.name, first_seen=e.first_seen) for e in entries]
        )

    def active_users(self, query: ActiveUsersQuery) -> ActiveUsersReport:
        default = {"day": 28, "week": 7 * 12, "month": 366}[query.grain]
        first, last = _range(query, self._today(), default, MAX_DAYS[query.grain])
        cells = self._active(query.grain, query.tenant, query.user_type, first, last)
        rows = [
            ActiveRow(
                period=c.period,
                tenant=c.tenant,
                user_type=c.user_type,
                active_users=c.active_users,
                sessions=c.sessions,
                events=c.events,
                stickiness=(
                    round(c.user_days / len(period_days(query.grain, c.period)) / c.active_users, 4)
                    if query.grain != "day" and c.active_users
                    else None
                ),
            )
            for c in cells
        ]
        return ActiveUsersReport(grain=query.grain, from_=first, to=last, k=self._k, rows=rows)

    def _active(
        self, grain: str, tenant: str | None, user_type: str | None, first: date, last: date
    ) -> list[ActiveCell]:
        cells = self._cells(self._store.active, grain, tenant, user_type, first, last)
        return sorted(cells, key=lambda c: (c.period, c.tenant != ALL, c.tenant, c.user_type))

    def _cells[C: (ActiveCell, FeatureCell)](
        self,
        read: Callable[[str, str | None, str, str, str | None], list[C]],
        grain: str,
        tenant: str | None,
        user_type: str | None,
        first: date,
        last: date,
    ) -> list[C]:
        """The stored cells `read` returns for the periods from `first` to `last`, from the tenant
        partitions the filter names, narrowed to one user type if asked."""
        cells: list[C] = []
        for partition in self._partitions(tenant):
            cells += read(grain, partition, period_key(grain, first), period_key(grain, last), user_type)
        return cells

    def features(self, query: FeaturesQuery) -> FeaturesReport:
        default = 7 * 12 if query.grain == "week" else 366
        first, last = _range(query, self._today(), default, MAX_DAYS[query.grain])
        cells = self._features(query.grain, query.tenant, query.user_type, first, last)
        active = {
            (c.period, c.tenant, c.user_type): c.active_users
            for c in self._active(query.grain, query.tenant, query.user_type, first, last)
        }
        rows, other = [], []
        for c in cells:
            if c.feature == OTHER and c.app == ALL:
                other.append(
                    OtherRow(period=c.period, tenant=c.tenant, user_type=c.user_type, events=c.events)
                )
                continue
            if query.app is not None and c.app != query.app:
                continue
            base = active.get((c.period, c.tenant, c.user_type))
            rows.append(
                FeatureRow(
                    period=c.period,
                    tenant=c.tenant,
                    user_type=c.user_type,
                    app=c.app,
                    feature=c.feature,
                    users=c.users,
                    events=c.events,
                    share=round(c.users / base, 4) if base else None,
                )
            )
        return FeaturesReport(grain=query.grain, from_=first, to=last, k=self._k, rows=rows, other=other)

    def _features(
        self, grain: str, tenant: str | None, user_type: str | None, first: date, last: date
    ) -> list[FeatureCell]:
        cells = self._cells(self._store.features, grain, tenant, user_type, first, last)
        return sorted(
            cells,
            key=lambda c: (c.period, c.tenant != ALL, c.tenant, c.user_type, -c.users, c.app, c.feature),
        )

    def retention(self, query: RetentionQuery) -> RetentionReport:
        first, last = _range(query, self._today(), 7 * 16, MAX_DAYS["week"])
        closed = self._store.built_periods("cohort")
        latest = max(closed) if closed else None
        rows = []
        for partition in self._partitions(query.tenant):
            for c in self._store.cohorts(partition, week_key(first), week_key(last), query.user_type):
                elapsed = 0
                if latest is not None:
                    elapsed = max(0, min(COHORT_WEEKS, (week_start(latest) - week_start(c.cohort)).days // 7))
                rows.append(
                    CohortRow(
                        cohort=c.cohort,
                        tenant=c.tenant,
                        user_type=c.user_type,
                        users=c.users,
                        active=list(c.active),
                        weeks_elapsed=elapsed,
                    )
                )
        rows.sort(key=lambda r: (r.cohort, r.tenant != ALL, r.tenant, r.user_type))
        return RetentionReport(from_=first, to=last, k=self._k, rows=rows)

    def onboarding(self, query: OnboardingQuery) -> OnboardingReport:
        entry = self._directory.tenant(query.tenant)
        if entry is None:
            raise NotFound("no such tenant key", code="unknown_tenant")
        rows: list[OnboardingRow] = []
        if entry.first_seen is not None:
            first = entry.first_seen
            last = min(first + timedelta(weeks=query.weeks) - timedelta(days=1), self._today())
            active = {c.period: c for c in self._active("week", query.tenant, ALL, first, last)}
            features: dict[str, set[str]] = {}
            for c in self._features("week", query.tenant, ALL, first, last):
                if c.feature != OTHER:
                    features.setdefault(c.period, set()).add(f"{c.app}: {c.feature}")
            seen: set[str] = set()
            week = week_start(week_key(first))
            while week <= last:
                key = week_key(week)
                cell = active.get(key)
                adopted = features.get(key, set())
                rows.append(
                    OnboardingRow(
                        week=key,
                        active_users=cell.active_users if cell else 0,
                        sessions=cell.sessions if cell else 0,
                        events=cell.events if cell else 0,
                        features_adopted=len(adopted),
                        new_features=sorted(adopted - seen),
                    )
                )
                seen |= adopted
                week += timedelta(weeks=1)
        return OnboardingReport(
            tenant=entry.key, name=entry.name, first_seen=entry.first_seen, k=self._k, rows=rows
        )

    def launch(self, query: LaunchQuery) -> LaunchReport:
        tenant = query.tenant or ALL
        launch = week_start(week_key(query.day))
        first = launch - timedelta(weeks=query.weeks)
        last = launch + timedelta(weeks=query.weeks) - timedelta(days=1)
        active = {
            c.period: c.active_users for c in self._active("week", tenant, query.user_type, first, last)
        }
        usage: dict[str, tuple[int, int]] = {}
        for c in self._features("week", tenant, query.user_type, first, last):
            if c.feature == query.feature and (query.app is None or c.app == query.app):
                users, events = usage.get(c.period, (0, 0))
                # several apps: users may overlap, so the larger count is the honest lower bound
                usage[c.period] = (max(users, c.users), events + c.events)
        rows = []
        for offset in range(-query.weeks, query.weeks):
            key = week_key(launch + timedelta(weeks=offset))
            users, events = usage.get(key, (0, 0))
            base = active.get(key)
            rows.append(
                LaunchRow(
                    week=key,
                    offset=offset,
                    phase="before" if offset < 0 else "after",
                    users=users,
                    events=events,
                    share=round(users / base, 4) if base else None,
                )
            )
        before = [r for r in rows if r.phase == "before"]
        after = [r for r in rows if r.phase == "after"]
        summary = LaunchSummary(
            users_before=_mean([float(r.users) for r in before]),
            users_after=_mean([float(r.users) for r in after]),
            share_before=_mean([r.share for r in before if r.share is not None]),
            share_after=_mean([r.share for r in after if r.share is not None]),
        )
        log(LOG, logging.INFO, "reports.launch", weeks=query.weeks)
        return LaunchReport(
            feature=query.feature,
            app=query.app,
            day=query.day,
            tenant=tenant,
            user_type=query.user_type,
            k=self._k,
            rows=rows,
            summary=summary,
        )
