"""Aggregates: usage statistics "with no link to individual users", kept beyond the 24 months.

Daily cells (day x tenant x user type x event name x app → events, distinct sessions, distinct
consented users) and, once a month is final, monthly cells (month x tenant x user type → active
users, sessions, events). Aggregate rows hold counts only: never a pseudonym, session id or event id.

Small-cell protection (docs/aggregates.md) is the disclosure package's
(`shared.privacy.disclosure.fold_cells`): a cell describing fewer than k people is folded into a
coarser one in the order `DAILY_FOLDS` / `MONTHLY_FOLDS` give — event name → `(other)`, then user
type → `(all)`, then app → `(other)`, then tenant → `(all)` — merging the underlying sets, so
totals are kept and no kept cell describes fewer than k people. Only if even the last, coarsest
remainder is under k is it suppressed (and counted as such). Anonymous events (no pseudonym,
session id or user type) count as events only, under user type `(all)`: a cell of them alone
shows 0 people, which the k rule allows ("0 or at least k").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.kernel import telemetry
from shared.kernel.logs import log
from shared.kernel.periods import oldest_kept_day
from shared.kernel.settings import Settings
from shared.privacy.disclosure import Cell, fold_cells
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.tenants import Tenants
from shared.reporting.build import BuildCounts, Closing, DayRollup, Domain, ReportBuilder
from shared.storage.aggregates import (
    AggregateStore,
    DailyCell,
    DailyKey,
    MonthlyCell,
    MonthlyKey,
)
from shared.storage.events import EventFacts, EventStore
from shared.storage.reports import ReportsStore

LOG = logging.getLogger("cetegra.aggregates")

OTHER, ALL, NO_APP = "(other)", "(all)", "(none)"
_DAILY, _MONTHLY = DailyKey._fields.index, MonthlyKey._fields.index
DAILY_FOLDS = (
    (_DAILY("name"), OTHER),
    (_DAILY("user_type"), ALL),
    (_DAILY("app"), OTHER),
    (_DAILY("tenant"), ALL),
)
"""(key position, placeholder) in folding order, positions taken from the cell's one key definition."""
MONTHLY_FOLDS = ((_MONTHLY("user_type"), ALL), (_MONTHLY("tenant"), ALL))
MAX_RANGE_DAYS = 800

Key = tuple[str, ...]


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
        events: EventStore,
        store: AggregateStore,
        settings: Settings,
        clock: Callable[[], datetime],
        tenants: Tenants,
        reports: ReportsStore,
        releaser: Releaser,
        domain: Callable[[], Domain],
    ) -> None:
        self._events = events
        self._store = store
        self._tenants = tenants
        self._report_store = reports
        self._reports = ReportBuilder(reports, releaser, domain)
        self._closing = Closing(reports, self.final_at)
        self._k = settings.aggregate_min_users
        self._months = settings.retention_months
        self._late = timedelta(hours=settings.event_max_age_hours, seconds=settings.event_max_future_seconds)
        self._clock = clock

    def final_at(self, day: date) -> datetime:
        """When a day can receive no more events: its end plus the accepted lateness window."""
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=self._clock().tzinfo) + self._late

    @telemetry.job("aggregation")
    def run(self, first: date | None = None, last: date | None = None) -> AggregationResult:
        """Build every closed day not yet final (catch-up and late events), then final months.

        With an explicit range, rebuild those closed days (ops on demand). A retained day that has
        no user rollup yet (built before the reports existed) is rebuilt once, so the reports'
        weeks, months and cohorts cover the whole retained window after an upgrade. Only days
        whose raw data still exists are ever rebuilt, and only periods whose every day is still
        retained: the aggregates of expired data are kept for good and must never be replaced by
        empty ones. Closed ISO weeks and months then get their report cells (shared/reporting/build.py).
        """
        now = self._clock()
        today = now.date()
        retained_from = oldest_kept_day(today, self._months)
        state = self._store.state()
        with_data = [d for d in self._events.days() if d < today]
        if first is not None and last is not None:
            days = [d for d in with_data if first <= d <= last]
        else:
            # a final day without a rollup was built before the reports existed: build it once more
            # (the one-time migration; afterwards every built day has its rollup)
            rolled = set(self._report_store.user_day_days())
            days = [d for d in with_data if not state.daily.get(d, False) or d not in rolled]
        to_build = []
        for month in sorted({date(d.year, d.month, 1) for d in [*days, *state.daily]}):
            if month < retained_from:
                continue  # some of its raw days are gone: its cells, if built, stay as they are
            forced = first is not None and last is not None and first <= month and _month_end(month) <= last
            if now >= self.final_at(_month_end(month)) and (forced or not state.monthly.get(month)):
                to_build.append(month)
        total = _Build()
        report = BuildCounts()
        final_days = []
        months: list[str] = []
        # One read per raw day: a day built here also feeds its month's cells when that month is
        # built in this run (the month then reads only its other days). Days come in order, so a
        # month is built as soon as the days move past it, and one month's sets are held at a time.
        read: dict[date, tuple[dict[Key, Cell], list[date]]] = {}
        first_days: dict[str, date] = {}
        for day in days:
            month = date(day.year, day.month, 1)
            for done in [m for m in read if m < month]:
                self._finish_month(done, read.pop(done), total, months)
            month_so_far = read.setdefault(month, ({}, [])) if month in to_build else None
            final = now >= self.final_at(day)
            built = self._build_day(
                day, final, report, first_days, None if month_so_far is None else month_so_far[0]
            )
            if month_so_far is not None:
                month_so_far[1].append(day)
            self._store.save_state("daily", day, final=final, events=built.events)
            total.events += built.events
            total.cells += built.cells
            total.suppressed += built.suppressed
            if final:
                final_days.append(day)
        for month in to_build:
            if month.strftime("%Y-%m") not in months:
                self._finish_month(month, read.pop(month, ({}, [])), total, months)
        months.sort()
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
        telemetry.aggregation_outcome(len(days), total.cells, total.suppressed)
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

    def _finish_month(
        self, month: date, so_far: tuple[dict[Key, Cell], list[date]], total: _Build, months: list[str]
    ) -> None:
        built = self._build_month(month, *so_far)
        self._store.save_state("monthly", month, final=True, events=built.events)
        total.cells += built.cells
        total.suppressed += built.suppressed
        months.append(month.strftime("%Y-%m"))

    def _collect(
        self,
        days: Iterable[date],
        key_of: Callable[[EventFacts], Key],
        cells: dict[Key, Cell] | None = None,
        monthly: dict[Key, Cell] | None = None,
        rollup: DayRollup | None = None,
    ) -> tuple[dict[Key, Cell], int]:
        """Every raw event of `days` into its cell (and, given `monthly`, into its monthly cell
        too; given `rollup`, into the day's user rollup); returns the cells and how many events
        they hold."""
        cells = {} if cells is None else cells
        for day in days:
            for facts in self._events.facts(day):
                if rollup is not None:
                    rollup.add(facts)
                key = key_of(facts)
                cell = cells.get(key)
                if cell is None:
                    cell = cells[key] = Cell()
                cell.add(facts.session_id, facts.pseudonym)
                if monthly is not None:
                    key = _monthly_key(facts)
                    cell = monthly.get(key)
                    if cell is None:
                        cell = monthly[key] = Cell()
                    cell.add(facts.session_id, facts.pseudonym)
        return cells, sum(cell.events for cell in cells.values())

    def _build_day(
        self,
        day: date,
        final: bool,
        report: BuildCounts,
        first_days: dict[str, date],
        monthly: dict[Key, Cell] | None = None,
    ) -> _Build:
        """One read of the raw day: its daily cells, and the day's user rollup and report cells."""
        rollup = DayRollup()
        cells, events = self._collect([day], _daily_key, monthly=monthly, rollup=rollup)
        user_days = rollup.rows(self._tenants.resolve_refs(rollup.refs))
        report.add(self._reports.build_day(day, user_days, final=final))
        for user_day in user_days:
            if user_day.tenant not in first_days or day < first_days[user_day.tenant]:
                first_days[user_day.tenant] = day
        kept, suppressed = fold_cells(cells, self._k, DAILY_FOLDS)
        rows = [
            DailyCell(DailyKey(*key), cell.events, len(cell.sessions), len(cell.users))
            for key, cell in kept.items()
        ]
        self._store.replace_daily(day, rows)
        return _Build(events, len(rows), suppressed)

    def _build_month(self, month: date, cells: dict[Key, Cell], read: list[date]) -> _Build:
        """The month's cells: `cells` already holds the days in `read`; the other days are read now."""
        days = [month + timedelta(days=i) for i in range((_month_end(month) - month).days + 1)]
        cells, events = self._collect([d for d in days if d not in read], _monthly_key, cells)
        kept, suppressed = fold_cells(cells, self._k, MONTHLY_FOLDS)
        rows = [
            MonthlyCell(MonthlyKey(*key), len(cell.users), len(cell.sessions), cell.events)
            for key, cell in kept.items()
        ]
        self._store.replace_monthly(month, rows)
        return _Build(events, len(rows), suppressed)


def _month_end(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1) - timedelta(days=1)


def _daily_key(facts: EventFacts) -> DailyKey:
    return DailyKey(facts.tenant_ref, facts.user_type or ALL, facts.name, facts.app or NO_APP)


def _monthly_key(facts: EventFacts) -> MonthlyKey:
    return MonthlyKey(facts.tenant_ref, facts.user_type or ALL)
