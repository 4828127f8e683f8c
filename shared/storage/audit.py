"""Audit records: table `audit`, one partition per UTC day (`YYYYMMDD`), row key = audit id.

Written with `create`, never upsert: an audit record is never overwritten.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from shared.storage.core import Storage, period_key

AUDIT = "audit"


class AuditRecord(NamedTuple):
    """One audited call: who (keyed reference), when, which route, on what (shared/privacy/audit.py's
    targets: never a raw id), the outcome and counts."""

    audit_id: str
    at: datetime
    operation: str
    actor: str
    target: str
    status: int
    counts: str
    """The response's counts as sorted JSON."""
    source: str = ""
    """What the target was made from, in the target's form (`item:<id>`: the item a duplicate
    copied); empty for every other call."""


class AuditStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.table(AUDIT)

    def write(self, record: AuditRecord) -> None:
        fields = record._asdict()
        row = {"PartitionKey": period_key("daily", record.at), "RowKey": fields.pop("audit_id"), **fields}
        self._storage.write_partition(self._table, [row], upsert=False)

    def day(self, day: date) -> list[AuditRecord]:
        """Every record of one UTC day."""
        return [
            AuditRecord(
                row["RowKey"],
                row["at"],
                row["operation"],
                row["actor"],
                row.get("target", ""),  # records written before targets were kept
                row["status"],
                row["counts"],
                row.get("source", ""),  # records written before sources were kept
            )
            for row in self._storage.partition(self._table, period_key("daily", day))
        ]
