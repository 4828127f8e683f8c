"""All Azure Table Storage access: one small core and one module per table family.

* `core` — `Storage`: the Table client, entity-group transactions, error mapping (→ 503),
  period keys, table naming; generic, it knows no table of its own.
* `events` — raw events, one table per UTC day.
* `consent` — consent decisions and their history.
* `aggregates` — daily/monthly cells and the aggregation's progress.
* `audit` — one record per ops call.
* `salt_usage` — which salt versions made raw data on which day.
* `notifications` — notification/survey items, per-user seen state and survey answers.
* `reports` — the reports' cells (kept) and their raw-class inputs (user-day rollup, first-seen
  index; expire with the raw days).
* `tenants` — the tenant directory: stable tenant keys, display names, the salt-reference map.
* `markers` — launch markers (dated notes on the report charts).
* `funnels` — the funnel cells (counts of people per step) and their build state.
* `coverage` — consent decisions tallied by status (counts only).
* `status` — the report page's status row (local demo seeding in progress).

Each family owns its table names, keys and columns and takes/returns typed records; no module
outside this package names a column or builds a key. `Tables` is one of each over one `Storage`.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.storage.aggregates import AggregateStore
from shared.storage.audit import AuditStore
from shared.storage.consent import ConsentStore
from shared.storage.core import Entity, Storage, period_day, period_key
from shared.storage.coverage import CoverageStore
from shared.storage.events import EventStore
from shared.storage.funnels import FunnelStore
from shared.storage.markers import MarkerStore
from shared.storage.notifications import NotificationStore
from shared.storage.reports import ReportsStore
from shared.storage.salt_usage import SaltUsageStore
from shared.storage.status import StatusStore
from shared.storage.tenants import TenantStore

__all__ = ["Entity", "Storage", "Tables", "period_day", "period_key"]


@dataclass(frozen=True)
class Tables:
    """Every table family over one storage account (built once per process, shared by the domain)."""

    events: EventStore
    consent: ConsentStore
    aggregates: AggregateStore
    audit: AuditStore
    salt_usage: SaltUsageStore
    notifications: NotificationStore
    reports: ReportsStore
    tenants: TenantStore
    markers: MarkerStore
    funnels: FunnelStore
    coverage: CoverageStore
    status: StatusStore

    @classmethod
    def over(cls, storage: Storage) -> Tables:
        return cls(
            events=EventStore(storage),
            consent=ConsentStore(storage),
            aggregates=AggregateStore(storage),
            audit=AuditStore(storage),
            salt_usage=SaltUsageStore(storage),
            notifications=NotificationStore(storage),
            reports=ReportsStore(storage),
            tenants=TenantStore(storage),
            markers=MarkerStore(storage),
            funnels=FunnelStore(storage),
            coverage=CoverageStore(storage),
            status=StatusStore(storage),
        )
