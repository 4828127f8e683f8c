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
from shared.kernel.periods import period_key, week_key, week_start
from shared.privacy.disclosure.releases import monthly_budget
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
    Privacy,
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


def _moe(**margins: float) -> dict[str, float]:
    """The 95 % margins of error of a row's released fields (none in the test kit's exact mode)."""
    return {name: value for name, value in margins.items() if value}


class ReportReader:
    def __init__(
        self, store: ReportsStore, directory: TenantStore, k: int, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._directory = directory
        self._k = k
        self._clock = clock
        budget = monthly_budget()
        self._privacy = Privacy(epsilon=round(budget.epsilon, 2), delta=budget.delta, threshold=k)

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
                hidden=c.hidden,
                active_users=c.active_users,
                sessions=c.sessions,
                events=c.events,
                stickiness=c.stickiness,
                moe={} if c.hidden else _moe(active_users=c.moe[0], sessions=c.moe[1], events=c.moe[2]),
            )
            for c in cells
        ]
        return ActiveUsersReport(
            grain=query.grain, from_=first, to=last, k=self._k, privacy=self._privacy, rows=rows
        )

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
                    OtherRow(
                        period=c.period,
                        tenant=c.tenant,
                        user_type=c.user_type,
                        events=c.events,
                        moe=_moe(events=c.moe[1]),
                    )
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
                    share=round(min(1.0, c.users / base), 4) if base else None,
                    moe=_moe(users=c.moe[0], events=c.moe[1]),
                )
            )
        return FeaturesReport(
            grain=query.grain, from_=first, to=last, k=self._k, privacy=self._privacy, rows=rows, other=other
        )

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
                        hidden=c.users is None,
                        users=c.users,
                        active=list(c.active),
                        moe={} if c.users is None else _moe(users=c.moe[0], active=c.moe[1]),
                        weeks_elapsed=elapsed,
                    )
                )
        rows.sort(key=lambda r: (r.cohort, r.tenant != ALL, r.tenant, r.user_type))
        return RetentionReport(from_=first, to=last, k=self._k, privacy=self._privacy, rows=rows)

    def onboarding(self, query: OnboardingQuery) -> OnboardingReport:
        entry = self._directory.tenant(query.tenant)
        if entry is None:
            raise NotFound("no such tenant key", code="unknown_tenant")
        rows: list[OnboardingRow] = []
        if entry.first_seen is not None:
            # exactly `weeks` ISO weeks from the tenant's first week (not from its first day, which
            # would reach into an N+1-th week), up to today
            first = week_start(week_key(entry.first_seen))
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
                hidden = cell is None or cell.hidden
                rows.append(
                    OnboardingRow(
                        week=key,
                        hidden=hidden,
                        active_users=None if cell is None else cell.active_users,
                        sessions=None if cell is None else cell.sessions,
                        events=None if cell is None else cell.events,
                        moe={}
                        if cell is None or hidden
                        else _moe(active_users=cell.moe[0], sessions=cell.moe[1], events=cell.moe[2]),
                        features_adopted=len(adopted),
                        new_features=sorted(adopted - seen),
                    )
                )
                seen |= adopted
                week += timedelta(weeks=1)
        return OnboardingReport(
            tenant=entry.key,
            name=entry.name,
            first_seen=entry.first_seen,
            k=self._k,
            privacy=self._privacy,
            rows=rows,
        )

    def launch(self, query: LaunchQuery) -> LaunchReport:
        tenant = query.tenant or ALL
        launch = week_start(week_key(query.day))
        first = launch - timedelta(weeks=query.weeks)
        last = launch + timedelta(weeks=query.weeks) - timedelta(days=1)
        active = {c.period: c for c in self._active("week", tenant, query.user_type, first, last)}
        usage: dict[str, list[FeatureCell]] = {}
        for c in self._features("week", tenant, query.user_type, first, last):
            if c.feature == query.feature and (query.app is None or c.app == query.app):
                usage.setdefault(c.period, []).append(c)
        rows = []
        for offset in range(-query.weeks, query.weeks):
            key = week_key(launch + timedelta(weeks=offset))
            cells = usage.get(key, [])
            week = active.get(key)
            base = None if week is None else week.active_users
            # several apps: users may overlap, so the largest count is the honest lower bound;
            # events add up (their margins in quadrature). A week with no shown cell is hidden:
            # its scope is not released or hidden, or the feature's cell is hidden — never 0.
            best = max(cells, key=lambda c: c.users) if cells else None
            events = sum(c.events for c in cells)
            rows.append(
                LaunchRow(
                    week=key,
                    offset=offset,
                    phase="before" if offset < 0 else "after",
                    hidden=best is None,
                    users=None if best is None else best.users,
                    events=None if best is None else events,
                    share=round(min(1.0, best.users / base), 4) if best is not None and base else None,
                    moe={}
                    if best is None
                    else _moe(users=best.moe[0], events=round(sum(c.moe[1] ** 2 for c in cells) ** 0.5, 1)),
                )
            )
        before = [r for r in rows if r.phase == "before"]
        after = [r for r in rows if r.phase == "after"]
        summary = LaunchSummary(
            users_before=_mean([float(r.users) for r in before if r.users is not None]),
            users_after=_mean([float(r.users) for r in after if r.users is not None]),
            share_before=_mean([r.share for r in before if r.share is not None]),
            share_after=_mean([r.share for r in after if r.share is not None]),
            hidden_before=sum(r.hidden for r in before),
            hidden_after=sum(r.hidden for r in after),
        )
        log(LOG, logging.INFO, "reports.launch", weeks=query.weeks)
        return LaunchReport(
            feature=query.feature,
            app=query.app,
            day=query.day,
            tenant=tenant,
            user_type=query.user_type,
            k=self._k,
            privacy=self._privacy,
            rows=rows,
            summary=summary,
        )
