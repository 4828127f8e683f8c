"""The tenant directory: table `tenants`, the only module that knows its keys and columns.

* partition `key` — the directory: a tenant's stable key → its display name and first-seen day
  (the name is set by ops; no raw tenant id is kept);
* partition `ref` — salt-derived tenant reference → stable key (the migration map, so a salt
  rotation keeps a tenant's key and its report history).

Readers of the aggregate tables may read it (BI names tenants by it); it holds no person's data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from shared.storage.core import Storage

TENANTS = "tenants"
KEY_PARTITION, REF_PARTITION = "key", "ref"


@dataclass(frozen=True)
class TenantEntry:
    key: str
    name: str | None
    first_seen: date | None


class TenantStore:
    """Typed reads and writes of the tenant directory."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def _t(self, base: str) -> str:
        return self._storage.table(base)

    def tenant_of_ref(self, ref: str) -> str | None:
        row = self._storage.get(self._t(TENANTS), REF_PARTITION, ref)
        return None if row is None else str(row["key"])

    def ref_map(self) -> dict[str, str]:
        return {
            str(e["RowKey"]): str(e["key"])
            for e in self._storage.partition(self._t(TENANTS), REF_PARTITION, select=["RowKey", "key"])
        }

    def link_refs(self, refs: Iterable[tuple[str, str]], key: str) -> None:
        """Record `ref → key` for every (ref, salt version) given (idempotent upserts)."""
        entities: list[dict[str, object]] = [
            {"PartitionKey": REF_PARTITION, "RowKey": ref, "key": key, "salt_version": version}
            for ref, version in refs
        ]
        if entities:
            self._storage.write_partition(self._t(TENANTS), entities, upsert=True)

    def tenant(self, key: str) -> TenantEntry | None:
        row = self._storage.get(self._t(TENANTS), KEY_PARTITION, key)
        return None if row is None else _tenant_entry(row)

    def tenants(self) -> list[TenantEntry]:
        return [_tenant_entry(e) for e in self._storage.partition(self._t(TENANTS), KEY_PARTITION)]

    def save_tenant(self, entry: TenantEntry) -> None:
        row: dict[str, object] = {"PartitionKey": KEY_PARTITION, "RowKey": entry.key}
        if entry.name is not None:
            row["name"] = entry.name
        if entry.first_seen is not None:
            row["first_seen"] = entry.first_seen.isoformat()
        self._storage.write_partition(self._t(TENANTS), [row], upsert=True)


def _tenant_entry(row: dict[str, object]) -> TenantEntry:
    first = row.get("first_seen")
    name = row.get("name")
    return TenantEntry(
        key=str(row["RowKey"]),
        name=None if name is None else str(name),
        first_seen=None if first is None else date.fromisoformat(str(first)),
    )
