"""Aggregate cells and the aggregation's progress: tables `aggdaily`, `aggmonthly`, `aggstate`.

* `aggdaily` — partition `YYYYMMDD`, row key the `DailyKey` joined with `|`; counts only.
* `aggmonthly` — partition `YYYYMM`, row key the `MonthlyKey` joined with `|`; counts only.
* `aggstate` — partition `daily`/`monthly`, row key the period: which periods are built, and
  whether they were final then.

A cell's dimensions are defined once, by `DailyKey` and `MonthlyKey`: the row key, the columns
and the aggregation's folding order (shared/reporting/aggregates.py) are all derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, NamedTuple

from shared.storage.core import Entity, Storage, period_day, period_key

Kind = Literal["daily", "monthly"]
TABLES: dict[Kind, str] = {"daily": "aggdaily", "monthly": "aggmonthly"}
AGGREGATE_STATE = "aggstate"


class DailyKey(NamedTuple):
    tenant: str
    user_type: str
    name: str
    app: str


class MonthlyKey(NamedTuple):
    tenant: str
    user_type: str


class DailyCell(NamedTuple):
    """Day x tenant x user type x event name x app → events, distinct sessions, distinct users."""

    key: DailyKey
    events: int
    sessions: int
    users: int


class MonthlyCell(NamedTuple):
    """Month x tenant x user type → active users, sessions, events."""

    key: MonthlyKey
    active_users: int
    sessions: int
    events: int


@dataclass
class AggregateState:
    """Which periods are built, and whether they were final (past the late-event window) then."""

    daily: dict[date, bool] = field(default_factory=dict)
    monthly: dict[date, bool] = field(default_factory=dict)


def _row(period: str, cell: DailyCell | MonthlyCell) -> Entity:
    counts = cell._asdict()
    key = counts.pop("key")
    return {"PartitionKey": period, "RowKey": "|".join(key), **key._asdict(), **counts}


class AggregateStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def _replace(self, kind: Kind, day: date, cells: list[DailyCell] | list[MonthlyCell]) -> None:
        """Make a period's cells exactly `cells`: deterministic keys and upserts, then delete cells
        a rebuild no longer has (e.g. folded after late events). Re-running gives identical rows."""
        period = period_key(kind, day)
        table = self._storage.table(TABLES[kind])
        entities = [_row(period, cell) for cell in cells]
        existing = {e["RowKey"] for e in self._storage.partition(table, period, select=["RowKey"])}
        if entities:
            self._storage.write_partition(table, entities, upsert=True)
        stale = existing - {e["RowKey"] for e in entities}
        if stale:
            self._storage.delete_entities(table, ((period, row) for row in sorted(stale)))

    def replace_daily(self, day: date, cells: list[DailyCell]) -> None:
        self._replace("daily", day, cells)

    def replace_monthly(self, month: date, cells: list[MonthlyCell]) -> None:
        self._replace("monthly", month, cells)

    def _rows(self, kind: Kind, day: date) -> list[Entity]:
        return self._storage.partition(self._storage.table(TABLES[kind]), period_key(kind, day))

    def daily(self, day: date) -> list[DailyCell]:
        return [
            DailyCell(DailyKey(*(r[f] for f in DailyKey._fields)), r["events"], r["sessions"], r["users"])
            for r in self._rows("daily", day)
        ]

    def monthly(self, month: date) -> list[MonthlyCell]:
        return [
            MonthlyCell(
                MonthlyKey(*(r[f] for f in MonthlyKey._fields)), r["active_users"], r["sessions"], r["events"]
            )
            for r in self._rows("monthly", month)
        ]

    def state(self) -> AggregateState:
        state = AggregateState()
        for row in self._storage.scan(self._storage.table(AGGREGATE_STATE)):
            periods = state.daily if row["PartitionKey"] == "daily" else state.monthly
            periods[period_day(row["RowKey"])] = bool(row["final"])
        return state

    def save_state(self, kind: Kind, day: date, *, final: bool, events: int) -> None:
        """Recorded after a period's cells are written, so a crash resumes by rebuilding it."""
        row = {"PartitionKey": kind, "RowKey": period_key(kind, day), "final": final, "events": events}
        self._storage.write_partition(self._storage.table(AGGREGATE_STATE), [row], upsert=True)
