"""Launch markers: table `markers`, one partition (`m`), row key = the marker's id.

A marker is a dated note a product team puts on every time chart ("Case templates launched"): a
day, optionally a feature and an app from the catalogues, and a short text. It names no person:
who recorded it is in the audit record of the call (shared/privacy/audit.py), never here. The
whole set is small (a few a month), so a reader takes the one partition.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple

from shared.storage.core import Entity, Storage

MARKERS = "markers"
PARTITION = "m"


class Marker(NamedTuple):
    marker_id: str
    day: date
    feature: str | None
    app: str | None
    text: str
    created_at: datetime


def _marker(row: Entity) -> Marker:
    return Marker(
        marker_id=str(row["RowKey"]),
        day=date.fromisoformat(str(row["day"])),
        feature=row.get("feature"),
        app=row.get("app"),
        text=str(row.get("text", "")),
        created_at=row["created_at"],
    )


class MarkerStore:
    """Typed reads and writes of the launch markers."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.table(MARKERS)

    def add(self, marker: Marker) -> None:
        row: Entity = {
            "PartitionKey": PARTITION,
            "RowKey": marker.marker_id,
            "day": marker.day.isoformat(),
            "text": marker.text,
            "created_at": marker.created_at,
        }
        if marker.feature is not None:
            row["feature"] = marker.feature
        if marker.app is not None:
            row["app"] = marker.app
        self._storage.write_partition(self._table, [row], upsert=False)

    def all(self) -> list[Marker]:
        return [_marker(row) for row in self._storage.partition(self._table, PARTITION)]

    def get(self, marker_id: str) -> Marker | None:
        row = self._storage.get(self._table, PARTITION, marker_id)
        return None if row is None else _marker(row)

    def delete(self, marker_id: str) -> bool:
        return self._storage.delete_entities(self._table, [(PARTITION, marker_id)]) > 0
