"""The report page's status row: table `pagestatus`, one row (`demo`/`seeding`).

The local host seeds synthetic demo data in the background (tools/demo_data.py) and notes it here
so the report page can say "demo data is being seeded" instead of "no data"; in Azure nothing ever
writes the row. It holds a flag and a time, nothing about any person.
"""

from __future__ import annotations

from datetime import datetime

from shared.storage.core import Storage

STATUS = "pagestatus"
PARTITION, ROW = "demo", "seeding"


class StatusStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.table(STATUS)

    def demo_seeding(self) -> bool:
        row = self._storage.get(self._table, PARTITION, ROW)
        return bool(row and row.get("active"))

    def note_demo_seeding(self, active: bool, at: datetime) -> None:
        row = {"PartitionKey": PARTITION, "RowKey": ROW, "active": active, "at": at}
        self._storage.write_partition(self._table, [row], upsert=True)
