"""Reports: active users, feature adoption, cohort retention, onboarding and launch impact, read from
the report cells the nightly build (shared/reporting/build.py) kept.

Purpose (privacy at a glance): analytics exist "to understand how Cetegra Workspace is used and
where the product can be improved", "so that usage patterns can be analysed per user type over
time". Everything a report shows comes from kept aggregates ("aggregated usage statistics (with
no link to individual users)"): counts only, every count of people 0 or at least k.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from shared.kernel.errors import BadRequest, NotFound
from shared.kernel.logs import log
from shared.kernel.periods import period_days, period_key, week_key, week_start
from shared.reporting.cells import ALL, OTHER
from shared.reporting.queries import (
    MAX_DAYS,
    ActiveRow,
    ActiveUsersQuery,
    ActiveUsersReport,
    CohortRow,
    FeatureRow,
    FeaturesQuery,
    FeaturesReport,
    LaunchQuery,
    LaunchReport,
    LaunchRow,
    LaunchSummary,
    OnboardingQuery,
    OnboardingReport,
    OnboardingRow,
    OtherRow,
    RangeQuery,
    RetentionQuery,
    RetentionReport,
    TenantRow,
    TenantsReport,
)
from shared.storage.reports import COHORT_WEEKS, ActiveCell, FeatureCell, ReportsStore
from shared.storage.tenants import TenantStore

LOG = logging.getLogger("cetegra.reports")


def _range(
    query: RangeQuery, today: date, default_days: int, cap: int, field_name: str = "from"
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
