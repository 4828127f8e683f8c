"""Aggregates: usage statistics "with no link to individual users", kept beyond the 24 months.

Daily cells (day x tenant x user type x event name x app → events, distinct sessions, distinct
consented users) and, once a month is final, monthly cells (month x tenant x user type → active
users, sessions, events). Aggregate rows hold counts only: never a pseudonym, session id or event id.

Small-cell protection (docs/aggregates.md): a cell describing fewer than k people is folded into a
coarser one — event name → `(other)`, then user type → `(all)`, then app → `(other)`, then tenant
→ `(all)` — merging the underlying sets, so totals are kept and no kept cell describes fewer than k
people. Only if even the last, coarsest remainder is under k is it suppressed (and counted as such).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.logs import log
from shared.reports import BuildCounts, Closing, DayRollup, ReportBuilder
from shared.reports_store import ReportsStore
from shared.retention import oldest_kept_day
from shared.settings import Settings
from shared.storage import Storage
from shared.tenants import Tenants

LOG = logging.getLogger("cetegra.aggregates")

OTHER, ALL, NO_APP = "(other)", "(all)", "(none)"
EVENT_FIELDS = ["session_id", "tenant", "user_type", "name", "app", "pseudonym"]
DAY_FIELDS = [*EVENT_FIELDS, "page"]
"""The one scan of a raw day feeds the daily cells and the day's user rollup (reports)."""
DAILY_FOLDS = ((2, OTHER), (1, ALL), (3, OTHER), (0, ALL))
"""(key position, placeholder) in folding order for (tenant, user_type, name, app)."""
MONTHLY_FOLDS = ((1, ALL), (0, ALL))
"""For (tenant, user_type)."""
MAX_RANGE_DAYS = 800

Key = tuple[str, ...]


@dataclass
class Cell:
    events: int = 0
    sessions: set[str] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
    anonymous: bool = False

    def add(self, session: str, pseudonym: int | None) -> None:
        self.events += 1
        self.sessions.add(session)
        if pseudonym is None:
            self.anonymous = True
        else:
            self.users.add(pseudonym)

    def absorb(self, other: Cell) -> None:
        self.events += other.events
        self.sessions |= other.sessions
        self.users |= other.users
        self.anonymous = self.anonymous or other.anonymous

    @property
    def people(self) -> int:
        """A lower bound on the people a cell describes. Anonymous events have no user id, so all
        of them together count as one person: folding errs towards privacy."""
        return len(self.users) + (1 if self.anonymous else 0)


def fold(cells: dict[Key, Cell], k: int, folds: Iterable[tuple[int, str]]) -> tuple[dict[Key, Cell], int]:
    """Fold every cell under k people into coarser cells; returns (kept cells, suppressed events)."""
    kept: dict[Key, Cell] = {}
    pending = cells
    for position, placeholder in folds:
        coarser: dict[Key, Cell] = {}
        for key, cell in pending.items():
            if cell.people >= k:
                kept.setdefault(key, Cell()).absorb(cell)
            else:
                target = (*key[:position], placeholder, *key[position + 1 :])
                coarser.setdefault(target, Cell()).absorb(cell)
        pending = coarser
    suppressed = 0
    for key, cell in pending.items():
        if cell.people >= k:
            kept.setdefault(key, Cell()).absorb(cell)
        else:
            suppressed += cell.events
    return kept, suppressed


class AggregationRequest(BaseModel):
    """Body of `POST /api/ops/aggregation/run`: an optional inclusive range of days to rebuild."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        populate_by_name=True,
        title="AggregationRequest",
        json_schema_extra={"dependentRequired": {"from": ["to"], "to": ["from"]}},
    )

    from_: date | None = Field(None, alias="from")
    to: date | None = None

    @model_validator(mode="after")
    def _range(self) -> AggregationRequest:
        if (self.from_ is None) != (self.to is None):
            raise ValueError("give both 'from' and 'to', or neither")
        if self.from_ is not None and self.to is not None:
            if self.from_ > self.to:
                raise ValueError("'from' is after 'to'")
            if (self.to - self.from_).days >= MAX_RANGE_DAYS:
                raise ValueError(f"at most {MAX_RANGE_DAYS} days per run")
        return self


class AggregationResult(BaseModel):
    model_config = ConfigDict(title="AggregationResult")

    built_days: list[date]
    final_days: list[date]
    built_months: list[str]
    events: int
    cells: int
    suppressed_events: int
    built_weeks: list[str] = []
    """ISO weeks whose report cells (active users, features, cohorts) were built."""
    report_cells: int = 0
    suppressed_report_cells: int = 0


@dataclass
class _Build:
    events: int = 0
    cells: int = 0
    suppressed: int = 0


class Aggregation:
    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Callable[[], datetime],
        tenants: Tenants,
        reports: ReportsStore,
    ) -> None:
        self._storage = storage
        self._tenants = tenants
        self._report_store = reports
        self._reports = ReportBuilder(reports, settings.aggregate_min_users)
        self._closing = Closing(reports, self.final_at)
        self._k = settings.aggregate_min_users
        self._months = settings.retention_months
        self._late = timedelta(hours=settings.event_max_age_hours, seconds=settings.event_max_future_seconds)
        self._clock = clock

    def final_at(self, day: date) -> datetime:
        """When a day can receive no more events: its end plus the accepted lateness window."""
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=self._clock().tzinfo) + self._late

    def run(self, first: date | None = None, last: date | None = None) -> AggregationResult:
        """Build every closed day not yet final (catch-up and late events), then final months.

        With an explicit range, rebuild those closed days (ops on demand). A retained day that has
        no user rollup yet (built before the reports existed) is rebuilt once, so the reports'
        weeks, months and cohorts cover the whole retained window after an upgrade. Only days
        whose raw data still exists are ever rebuilt, and only periods whose every day is still
        retained: the aggregates of expired data are kept for good and must never be replaced by
        empty ones. Closed ISO weeks and months then get their report cells (shared/reports.py).
        """
        now = self._clock()
        today = now.date()
        retained_from = oldest_kept_day(today, self._months)
        state = self._storage.aggregate_state()
        with_data = [d for d in self._storage.event_days() if d < today]
        if first is not None and last is not None:
            days = [d for d in with_data if first <= d <= last]
        else:
            # a final day without a rollup was built before the reports existed: build it once more
            # (the one-time migration; afterwards every built day has its rollup)
            rolled = set(self._report_store.user_day_days())
            days = [d for d in with_data if not state.daily.get(d, False) or d not in rolled]
        total = _Build()
        report = BuildCounts()
        final_days = []
        first_days: dict[str, date] = {}
        for day in days:
            final = now >= self.final_at(day)
            built = self._build_day(day, final, report, first_days)
            self._storage.save_aggregate_state("daily", day, final=final, events=built.events)
            total.events += built.events
            total.cells += built.cells
            total.suppressed += built.suppressed
            if final:
                final_days.append(day)

        months = []
        for month in sorted({date(d.year, d.month, 1) for d in [*days, *state.daily]}):
            if month < retained_from:
                continue  # some of its raw days are gone: its cells, if built, stay as they are
            next_month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
            forced = (
                first is not None
                and last is not None
                and first <= month
                and next_month - timedelta(days=1) <= last
            )
            if now >= self.final_at(next_month - timedelta(days=1)) and (
                forced or not state.monthly.get(month)
            ):
                built = self._build_month(month, next_month)
                self._storage.save_aggregate_state("monthly", month, final=True, events=built.events)
                total.cells += built.cells
                total.suppressed += built.suppressed
                months.append(month.strftime("%Y-%m"))
        self._tenants.saw(first_days)
        window = (first, last) if first is not None and last is not None else None
        touched = [*days, *state.daily]
        weeks = self._closing.due("week", touched, now, retained_from, window)
        for week in weeks:
            report.add(self._reports.build_period("week", week))
        for period in self._closing.due("month", touched, now, retained_from, window):
            report.add(self._reports.build_period("month", period))
        log(
            LOG,
            logging.INFO,
            "aggregation.run",
            days=len(days),
            final_days=len(final_days),
            months=len(months),
            events=total.events,
            cells=total.cells,
            suppressed=total.suppressed,
            weeks=len(weeks),
            report_cells=report.active_cells + report.feature_cells + report.cohort_cells,
        )
        return AggregationResult(
            built_days=days,
            final_days=final_days,
            built_months=months,
            events=total.events,
            cells=total.cells,
            suppressed_events=total.suppressed,
            built_weeks=weeks,
            report_cells=report.active_cells + report.feature_cells + report.cohort_cells,
            suppressed_report_cells=report.suppressed_active_cells + report.suppressed_feature_cells,
        )

    def _collect(
        self, days: Iterable[date], key_of: Callable[[dict[str, Any]], Key]
    ) -> tuple[dict[Key, Cell], int]:
        """Every raw event of `days` into its cell; returns the cells and how many events they hold."""
        cells: dict[Key, Cell] = {}
        for day in days:
            for row in self._storage.scan_events(day, EVENT_FIELDS):
                key = key_of(row)
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = Cell()
                cell.add(row["session_id"], row.get("pseudonym"))
        return cells, sum(cell.events for cell in cells.values())

    def _build_day(self, day: date, final: bool, report: BuildCounts, first_days: dict[str, date]) -> _Build:
        """One scan of the raw day: its daily cells, and the day's user rollup and report cells."""
        cells: dict[Key, Cell] = {}
        rollup = DayRollup()
        for row in self._storage.scan_events(day, DAY_FIELDS):
            key = (row["tenant"], row["user_type"], row["name"], row.get("app") or NO_APP)
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            cell.add(row["session_id"], row.get("pseudonym"))
            rollup.add(row)
        events = sum(cell.events for cell in cells.values())
        keys = self._tenants.resolve_refs(rollup.refs)
        user_days = rollup.rows(keys)
        report.add(self._reports.build_day(day, user_days, final=final))
        for user_day in user_days:
            if user_day.tenant not in first_days or day < first_days[user_day.tenant]:
                first_days[user_day.tenant] = day
        kept, suppressed = fold(cells, self._k, DAILY_FOLDS)
        rows = [
            {
                "tenant": key[0],
                "user_type": key[1],
                "name": key[2],
                "app": key[3],
                "events": cell.events,
                "sessions": len(cell.sessions),
                "users": len(cell.users),
            }
            for key, cell in kept.items()
        ]
        self._storage.replace_aggregates("daily", day, rows)
        return _Build(events, len(rows), suppressed)

    def _build_month(self, month: date, next_month: date) -> _Build:
        days = [month + timedelta(days=i) for i in range((next_month - month).days)]
        cells, events = self._collect(days, lambda row: (row["tenant"], row["user_type"]))
        kept, suppressed = fold(cells, self._k, MONTHLY_FOLDS)
        rows = [
            {
                "tenant": key[0],
                "user_type": key[1],
                "active_users": len(cell.users),
                "sessions": len(cell.sessions),
                "events": cell.events,
            }
            for key, cell in kept.items()
        ]
        self._storage.replace_aggregates("monthly", month, rows)
        return _Build(events, len(rows), suppressed)
