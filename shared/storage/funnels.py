"""Funnel cells: table `rptfunnel` (kept for good, counts of people only) and its build state
`rptfunnelstate`.

* `rptfunnel`: partition = ISO week; row key = `<tenant key or (all)>|<user type>|<funnel id>|
  <mode>` (mode `session` or `7d`); column `steps` = JSON list, one entry per step: the number of
  people who reached it, or null where the disclosure rule hides it; `user_type` and `mode` again
  as columns (an every-tenant read filters on them). A cell names no person.
  Partitioned by week because every read is a range of weeks (one query over those partitions,
  for one scope with a row-key range) and a rebuild replaces one partition
  (bench/reports.py: with the tenant as partition the every-tenant read was a table scan, p95
  882 ms at 50 tenants).
* `rptfunnelstate`: partition `week`, row key = ISO week; column `catalogue` = the fingerprint of
  the funnel catalogue the week was built with (a changed catalogue rebuilds the weeks whose raw
  days are still kept).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

from shared.storage.core import Entity, Storage

FUNNELS = "rptfunnel"
FUNNEL_STATE = "rptfunnelstate"
STATE_PARTITION = "week"


class FunnelCell(NamedTuple):
    tenant: str
    week: str
    user_type: str
    funnel: str
    mode: str
    steps: list[int | None]
    moe: float = 0.0
    """95 % margin of error of each released step count (docs/privacy-model.md)."""


def _row(cell: FunnelCell) -> Entity:
    return {
        "PartitionKey": cell.week,
        "RowKey": f"{cell.tenant}|{cell.user_type}|{cell.funnel}|{cell.mode}",
        "steps": json.dumps(cell.steps),
        "moe": cell.moe,
        "user_type": cell.user_type,  # also in the key; a column so every-tenant reads filter on it
        "mode": cell.mode,
    }


def _cell(row: Entity) -> FunnelCell:
    tenant, user_type, funnel, mode = str(row["RowKey"]).split("|")
    return FunnelCell(
        tenant,
        str(row["PartitionKey"]),
        user_type,
        funnel,
        mode,
        json.loads(row["steps"]),
        float(row.get("moe") or 0.0),
    )


class FunnelStore:
    """Typed reads and writes of the funnel cells and their build state."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._cells = storage.table(FUNNELS)
        self._state = storage.table(FUNNEL_STATE)

    def replace_week(self, week: str, cells: Iterable[FunnelCell]) -> int:
        """Write a week's cells (one partition) and delete the rows a rebuild no longer has."""
        rows = [_row(cell) for cell in cells]
        self._storage.write_partition(self._cells, rows, upsert=True)
        keep = {row["RowKey"] for row in rows}
        stale = [
            (week, str(row["RowKey"]))
            for row in self._storage.partition(self._cells, week, select=["RowKey"])
            if row["RowKey"] not in keep
        ]
        self._storage.delete_entities(self._cells, stale)
        return len(rows)

    def cells(self, tenant: str, first_week: str, last_week: str) -> list[FunnelCell]:
        """One scope's cells of the weeks first..last: one query over the weeks' partitions."""
        return [
            _cell(row)
            for row in self._storage.query(
                self._cells,
                "PartitionKey ge @first and PartitionKey le @last and RowKey ge @low and RowKey lt @high",
                {"first": first_week, "last": last_week, "low": f"{tenant}|", "high": f"{tenant}}}"},
            )
        ]

    def all_cells(
        self, first_week: str, last_week: str, user_type: str | None = None, mode: str | None = None
    ) -> list[FunnelCell]:
        """Every scope's cells of the weeks first..last (every tenant and `(all)`), of one user
        type and mode when given (filtered by the service): one query over the weeks' partitions."""
        filter_ = "PartitionKey ge @first and PartitionKey le @last"
        parameters: dict[str, str] = {"first": first_week, "last": last_week}
        if user_type is not None:
            filter_ += " and user_type eq @user_type"
            parameters["user_type"] = user_type
        if mode is not None:
            filter_ += " and mode eq @mode"
            parameters["mode"] = mode
        return [_cell(row) for row in self._storage.query(self._cells, filter_, parameters)]

    def built(self) -> dict[str, str]:
        """Every built week → the catalogue fingerprint it was built with."""
        return {
            str(row["RowKey"]): str(row.get("catalogue", ""))
            for row in self._storage.partition(self._state, STATE_PARTITION)
        }

    def mark_built(self, week: str, fingerprint: str) -> None:
        """Written last (after the cells): a crash before it rebuilds the week on the next run."""
        row: Entity = {"PartitionKey": STATE_PARTITION, "RowKey": week, "catalogue": fingerprint}
        self._storage.write_partition(self._state, [row], upsert=True)
