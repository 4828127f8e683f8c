"""Consent coverage: how many consent decisions the consent table holds, by status, counts only.

It reads the consent family's table (`shared/storage/consent.py` owns its name and columns; this
module imports them rather than naming them again) projected on the status column of the decision
rows, so no consent key leaves this module: the caller sees a tally, never a record.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

from shared.storage.consent import CONSENT, STATE_ROW
from shared.storage.core import RowChanged, Storage, TableMissing

RELEASES = "rptcoverage"
"""Released coverage, one row per calendar month (partition `coverage`, row `YYYY-MM`): the noisy
counts and when they were drawn. Counts only, never a key."""

CACHE_SECONDS = 600.0
"""How long one process reuses a tally: the pass reads every decision row (one per person asked),
and coverage moves slowly; the report page asks for it on every load."""


class CoverageStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.table(CONSENT)
        self._releases = storage.table(RELEASES)
        self._lock = threading.Lock()
        self._cached: tuple[float, Counter[str]] | None = None

    def statuses(self) -> Counter[str]:
        """Current decisions by status (`granted`, `declined`, ...): one filtered pass over the
        consent table's decision rows (history rows left out by the filter), reused for
        CACHE_SECONDS."""
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return Counter(self._cached[1])
        tally: Counter[str] = Counter()
        for row in self._storage.query(self._table, "RowKey eq @row", {"row": STATE_ROW}, select=["status"]):
            tally[str(row.get("status", ""))] += 1
        with self._lock:
            self._cached = (time.monotonic(), tally)
        return Counter(tally)

    def release(self, month: str) -> tuple[str, dict[str, int]] | None:
        """The month's stored release: (when it was drawn, ISO time; the noisy counts), if any."""
        row = self._storage.get(self._releases, "coverage", month)
        if row is None:
            return None
        return str(row["drawn_at"]), {k: int(v) for k, v in json.loads(str(row["counts"])).items()}

    def save_release(self, month: str, drawn_at: str, counts: dict[str, int]) -> bool:
        """Store the month's release unless one exists (two instances drawing at once: the first
        insert wins, the caller reads it back). Returns whether this call stored it."""
        row = {
            "PartitionKey": "coverage",
            "RowKey": month,
            "drawn_at": drawn_at,
            "counts": json.dumps(counts),
        }
        try:
            self._storage.write_conditional(self._releases, [], row, None)
        except TableMissing:
            self._storage.ensure_table(self._releases)
            return self.save_release(month, drawn_at, counts)
        except RowChanged:  # the row exists: another instance released first
            return False
        return True
