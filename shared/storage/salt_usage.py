"""Salt usage: which salt versions made raw data on which day (table `saltusage`).

One partition `usage`, row key `<YYYYMMDD>|<version>`, no columns. Retention reads it to tell
which versions have no raw data left without reading any event; the ingest path records each
new (day, version) pair explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from shared.storage.core import Storage, period_day, period_key

SALT_USAGE = "saltusage"
PARTITION = "usage"


class SaltUse(NamedTuple):
    """Salt `version` made raw data on `day`."""

    day: date
    version: str


def _row_key(use: SaltUse) -> str:
    return f"{period_key('daily', use.day)}|{use.version}"


class SaltUsageStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.table(SALT_USAGE)
        self._noted: set[SaltUse] = set()

    def note(self, uses: Iterable[SaltUse]) -> None:
        """Record once per process that each version made data on its day (one upsert per new
        pair; nothing for pairs this process has recorded already)."""
        for use in uses:
            if use in self._noted:
                continue
            self._storage.write_partition(
                self._table, [{"PartitionKey": PARTITION, "RowKey": _row_key(use)}], upsert=True
            )
            self._noted.add(use)

    def all(self) -> list[SaltUse]:
        rows = self._storage.partition(self._table, PARTITION, select=["RowKey"])
        out = []
        for row in rows:
            day, _, version = row["RowKey"].partition("|")
            out.append(SaltUse(period_day(day), version))
        return out

    def forget(self, uses: Iterable[SaltUse]) -> None:
        self._storage.delete_entities(self._table, ((PARTITION, _row_key(use)) for use in uses))
