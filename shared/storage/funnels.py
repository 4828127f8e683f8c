"""Funnel cells: table `rptfunnel` (kept for good, counts of people only) and its build state
`rptfunnelstate`.

* `rptfunnel`: partition = tenant key or `(all)`; row key = `<ISO week>|<user type>|<funnel id>|
  <mode>` (mode `session` or `7d`); column `steps` = JSON list, one entry per step: the number of
  people who reached it, or null where the disclosure rule hides it. A cell names no person.
* `rptfunnelstate`: partition `week`, row key = ISO week; column `catalogue` = the fingerprint of
  the funnel catalogue the week was built with (a changed catalogue rebuilds the weeks whose raw
  days are still kept), `partitions` = the tenants (and `(all)`) its cells went to, so a rebuild
  deletes stale rows there without scanning the table.
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


def _row(cell: FunnelCell) -> Entity:
    return {
        "PartitionKey": cell.tenant,
        "RowKey": f"{cell.week}|{cell.user_type}|{cell.funnel}|{cell.mode}",
        "steps": json.dumps(cell.steps),
    }


def _cell(row: Entity) -> FunnelCell:
    week, user_type, funnel, mode = str(row["RowKey"]).split("|")
    return FunnelCell(str(row["PartitionKey"]), week, user_type, funnel, mode, json.loads(row["steps"]))


class FunnelStore:
    """Typed reads and writes of the funnel cells and their build state."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._cells = storage.table(FUNNELS)
        self._state = storage.table(FUNNEL_STATE)
        self._pending: dict[str, list[str]] = {}
        """Partitions written by `replace_week`, kept in the week's state row by `mark_built`."""

    def replace_week(self, week: str, cells: Iterable[FunnelCell]) -> int:
        """Write a week's cells and delete that week's rows a rebuild no longer has: only in the
        partitions its last build wrote (the state row lists them), never a scan of the table."""
        by_tenant: dict[str, list[Entity]] = {}
        for cell in cells:
            by_tenant.setdefault(cell.tenant, []).append(_row(cell))
        written = 0
        for rows in by_tenant.values():
            self._storage.write_partition(self._cells, rows, upsert=True)
            written += len(rows)
        keep = {(row["PartitionKey"], row["RowKey"]) for rows in by_tenant.values() for row in rows}
        stale = [
            (tenant, str(row["RowKey"]))
            for tenant in self._partitions(week)
            for row in self._storage.query(
                self._cells,
                "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                {"pk": tenant, "low": f"{week}|", "high": f"{week}}}"},
                select=["RowKey"],
            )
            if (tenant, row["RowKey"]) not in keep
        ]
        self._storage.delete_entities(self._cells, stale)
        self._pending[week] = sorted(by_tenant)
        return written

    def _partitions(self, week: str) -> list[str]:
        row = self._storage.get(self._state, STATE_PARTITION, week)
        return [str(p) for p in json.loads(row.get("partitions", "[]"))] if row else []

    def cells(self, tenant: str, first_week: str, last_week: str) -> list[FunnelCell]:
        """One scope's cells of the weeks first..last (a range read of one partition)."""
        return [
            _cell(row)
            for row in self._storage.query(
                self._cells,
                "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                {"pk": tenant, "low": f"{first_week}|", "high": f"{last_week}}}"},
            )
        ]

    def built(self) -> dict[str, str]:
        """Every built week → the catalogue fingerprint it was built with."""
        return {
            str(row["RowKey"]): str(row.get("catalogue", ""))
            for row in self._storage.partition(self._state, STATE_PARTITION)
        }

    def mark_built(self, week: str, fingerprint: str) -> None:
        """Written last (after the cells): a crash before it rebuilds the week on the next run."""
        row: Entity = {
            "PartitionKey": STATE_PARTITION,
            "RowKey": week,
            "catalogue": fingerprint,
            "partitions": json.dumps(self._pending.pop(week, [])),
        }
        self._storage.write_partition(self._state, [row], upsert=True)

    def all_cells(self, first_week: str, last_week: str) -> list[FunnelCell]:
        """Every scope's cells of the weeks first..last (every tenant and `(all)`)."""
        return [
            _cell(row)
            for row in self._storage.query(
                self._cells,
                "RowKey ge @low and RowKey lt @high",
                {"low": f"{first_week}|", "high": f"{last_week}}}"},
            )
        ]
