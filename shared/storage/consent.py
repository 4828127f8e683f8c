"""Consent records: table `consent`, one partition per consent key (never the raw user id).

Row `state` is the current decision, rows `h<time><nonce>` its history (oldest first by key). One
partition, so a decision and its history entry are written in one entity-group transaction:
never half-way.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple

from shared.storage.core import Entity, Storage

CONSENT = "consent"
STATE_ROW = "state"


class ConsentRecord(NamedTuple):
    """The current decision under one consent key, and the salt version that key was derived with."""

    status: str
    policy_version: str | None
    decided_at: datetime | None
    salt_version: str | None


class ConsentChange(NamedTuple):
    """One history entry: the proof of a decision."""

    at: datetime
    previous_status: str
    status: str
    policy_version: str
    previous_policy_version: str


def _record(row: Entity) -> ConsentRecord:
    return ConsentRecord(
        row["status"], row.get("policy_version"), row.get("decided_at"), row.get("salt_version")
    )


def _change(row: Entity) -> ConsentChange:
    return ConsentChange(
        row["at"],
        row["previous_status"],
        row["status"],
        row["policy_version"],
        row["previous_policy_version"],
    )


def state_row(key: str, record: ConsentRecord) -> Entity:
    return {
        "PartitionKey": key,
        "RowKey": STATE_ROW,
        "status": record.status,
        "policy_version": record.policy_version,
        "decided_at": record.decided_at,
        "salt_version": record.salt_version,
    }


class ConsentStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.table(CONSENT)

    def state(self, key: str) -> ConsentRecord | None:
        row = self._storage.get(self._table, key, STATE_ROW)
        return None if row is None else _record(row)

    def read(self, key: str) -> tuple[ConsentRecord | None, list[ConsentChange]]:
        """The decision and its history, oldest first (one partition read)."""
        rows = sorted(self._storage.partition(self._table, key), key=lambda r: r["RowKey"])
        state = next((_record(row) for row in rows if row["RowKey"] == STATE_ROW), None)
        return state, [_change(row) for row in rows if row["RowKey"] != STATE_ROW]

    def decide(self, key: str, record: ConsentRecord, change: ConsentChange) -> None:
        """The new decision and its history entry in one transaction (all or nothing)."""
        history = {
            "PartitionKey": key,
            "RowKey": f"h{change.at:%Y%m%dT%H%M%S%fZ}{secrets.token_hex(4)}",
            **change._asdict(),
        }
        self._storage.write_partition(self._table, [state_row(key, record), history], upsert=True)

    def move(self, old: str, new: str, salt_version: str) -> tuple[bool, ConsentRecord | None]:
        """Move every row from consent key `old` to `new` (after a salt rotation), the state row
        now naming `salt_version`. Returns (whether there was anything, the moved decision)."""
        rows = self._storage.partition(self._table, old)
        if not rows:
            return False, None
        moved = [{**row, "PartitionKey": new} for row in rows]
        for row in moved:
            if row["RowKey"] == STATE_ROW:
                row["salt_version"] = salt_version
        self._storage.write_partition(self._table, moved, upsert=True)
        self._storage.delete_entities(self._table, ((old, row["RowKey"]) for row in rows))
        return True, next((_record(row) for row in moved if row["RowKey"] == STATE_ROW), None)

    def erase(self, key: str) -> bool:
        """Delete the decision and its history under one key; True if there was any."""
        rows = self._storage.partition(self._table, key, select=["RowKey"])
        self._storage.delete_entities(self._table, ((key, row["RowKey"]) for row in rows))
        return bool(rows)
