"""The tenant table: one row per tenant, the B2B view a product team starts from.

Name and first seen (the directory), the last week it was active, its weekly active users in the
last closed ISO week (with the change against the week before and a sparkline of the last N
weeks) and monthly active users in the last closed month, stickiness (mean daily over weekly
active users) and, where known, its consent coverage. Everything comes from the published reports
(`ReportReader`), so the table shows nothing the reports do not: a hidden or missing figure of a
tenant that had data is null with `hidden` true, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.periods import month_key, week_key, week_start
from shared.reporting.cells import ALL
from shared.reporting.coverage import Coverage
from shared.reporting.queries import ActiveUsersQuery
from shared.reporting.reader import ReportReader


class TenantTableQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", title="TenantTableQuery")

    weeks: int = Field(12, ge=2, le=52, description="Weeks in each tenant's sparkline")


class TenantTableRow(BaseModel):
    tenant: str
    name: str | None
    first_seen: date | None
    last_active_week: str | None
    """The last closed week in which the tenant's weekly active users were shown (> 0)."""
    week: str
    wau: int | None
    wau_hidden: bool
    wau_previous: int | None
    wau_change: int | None
    """wau minus the week before's, when both are shown."""
    wau_moe: float | None = None
    """The 95 % margin of error of `wau`, when the release has one."""
    month: str
    mau: int | None
    mau_hidden: bool
    mau_moe: float | None = None
    stickiness: float | None
    """Mean daily active users ÷ WAU of the last closed week, else ÷ MAU of the last closed month."""
    sparkline: list[int | None]
    """Weekly active users of the last N closed weeks, oldest first; null = hidden or no data."""
    consent_asked: int | None
    consent_granted: int | None


class TenantTable(BaseModel):
    model_config = ConfigDict(title="TenantTable")

    week: str
    """The last closed ISO week (the open week is in progress and not shown)."""
    month: str
    k: int
    rows: list[TenantTableRow]
    coverage_per_tenant: bool


def _moe(row: Any) -> float | None:
    """A report row's margin of error of its active users (DP releases), None when it has none."""
    moe = getattr(row, "moe", None) if row is not None else None
    value = moe.get("active_users") if isinstance(moe, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _stickiness(week: Any, month: Any) -> float | None:
    """The last closed week's stickiness (mean DAU ÷ WAU) when its release has one, else the last
    closed month's (mean DAU ÷ MAU)."""
    for row in (week, month):
        value = None if row is None or getattr(row, "hidden", False) else getattr(row, "stickiness", None)
        if value is not None:
            return float(value)
    return None


def _users(row: Any) -> int | None:
    """A report row's people count, None when hidden (the DP rows' `hidden`, or a null count)."""
    if row is None or getattr(row, "hidden", False):
        return None
    value = row.active_users
    return None if value is None else int(value)


class TenantTableReader:
    def __init__(
        self, reports: ReportReader, coverage: Coverage, k: int, clock: Callable[[], datetime]
    ) -> None:
        self._reports = reports
        self._coverage = coverage
        self._k = k
        self._clock = clock

    def table(self, query: TenantTableQuery) -> TenantTable:
        today = self._clock().date()
        last_week_start = week_start(week_key(today)) - timedelta(days=7)
        first_week_start = last_week_start - timedelta(weeks=query.weeks - 1)
        weeks = [week_key(first_week_start + timedelta(weeks=i)) for i in range(query.weeks)]
        month_end = today.replace(day=1) - timedelta(days=1)
        month = month_key(month_end)
        weekly = self._reports.active_users(
            ActiveUsersQuery.model_validate(
                {
                    "grain": "week",
                    "tenant": "*",
                    "user_type": ALL,
                    "from": first_week_start.isoformat(),
                    "to": (last_week_start + timedelta(days=6)).isoformat(),
                }
            )
        )
        monthly = self._reports.active_users(
            ActiveUsersQuery.model_validate(
                {
                    "grain": "month",
                    "tenant": "*",
                    "user_type": ALL,
                    "from": month_end.replace(day=1).isoformat(),
                    "to": month_end.isoformat(),
                }
            )
        )
        by_week = {(r.tenant, r.period): r for r in weekly.rows if r.user_type == ALL}
        by_month = {r.tenant: r for r in monthly.rows if r.user_type == ALL and r.period == month}
        rows = []
        for entry in self._reports.tenants().tenants:
            seen = entry.first_seen
            line = [_users(by_week.get((entry.tenant, w))) for w in weeks]
            active = [w for w, n in zip(weeks, line, strict=True) if n]
            wau, previous = line[-1], line[-2]
            last = by_week.get((entry.tenant, weeks[-1]))
            mau_row = by_month.get(entry.tenant)
            rows.append(
                TenantTableRow(
                    tenant=entry.tenant,
                    name=entry.name,
                    first_seen=seen,
                    last_active_week=active[-1] if active else None,
                    week=weeks[-1],
                    wau=wau,
                    wau_hidden=wau is None
                    and seen is not None
                    and seen <= last_week_start + timedelta(days=6),
                    wau_previous=previous,
                    wau_change=None if wau is None or previous is None else wau - previous,
                    wau_moe=None if wau is None else _moe(last),
                    month=month,
                    mau=_users(mau_row),
                    mau_hidden=_users(mau_row) is None and seen is not None and seen <= month_end,
                    mau_moe=_moe(mau_row),
                    stickiness=_stickiness(last if wau is not None else None, mau_row),
                    sparkline=line,
                    consent_asked=None,
                    consent_granted=None,
                )
            )
        coverage = self._coverage.report()
        return TenantTable(
            week=weeks[-1], month=month, k=self._k, rows=rows, coverage_per_tenant=coverage.per_tenant
        )
