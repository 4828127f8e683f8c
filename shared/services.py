"""The process-wide object graph: settings → storage, salts → pseudonyms → consent, events.

Built lazily once per worker process (clients hold connection pools and the salt cache).
Tests, the local host and the benchmarks inject their own parts via `build()` + `install()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.ingestion.catalogues import APPS, PAGES, UNLISTED, UnlistedCounts
from shared.ingestion.events import EVENT_NAMES
from shared.ingestion.holder import RawEvents
from shared.ingestion.ingest import Ingest
from shared.kernel.logs import quiet_azure_sdk
from shared.kernel.settings import Settings, load
from shared.lifecycle.erasure import Erasure
from shared.lifecycle.retention import Retention
from shared.notifications.holder import NotificationState
from shared.notifications.service import Notifications
from shared.privacy.audit import Audit
from shared.privacy.consent import ConsentRecords, ConsentService
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.holders import Holder
from shared.privacy.pseudonyms import (
    DevSaltSource,
    KeyVaultSaltSource,
    Pseudonymizer,
    SaltCache,
    SaltSource,
)
from shared.privacy.tenants import Tenants
from shared.reporting.aggregates import Aggregation
from shared.reporting.build import Domain
from shared.reporting.cells import NO_APP
from shared.reporting.coverage import Coverage
from shared.reporting.funnels import FunnelBuilder, FunnelReader
from shared.reporting.holder import ReportInputs
from shared.reporting.markers import Markers
from shared.reporting.reader import ReportReader
from shared.reporting.tenant_table import TenantTableReader
from shared.storage import Storage, Tables

Clock = Callable[[], datetime]

FEATURE_DOMAIN: tuple[tuple[str, str], ...] = tuple(
    (app, feature)
    for app in (*sorted(APPS.apps), UNLISTED, NO_APP)
    for feature in (*sorted(EVENT_NAMES), *sorted(PAGES.templates), UNLISTED)
)
"""Every (app, feature) a report can show, from the reviewed catalogues alone (a feature is an
event name, or a page view's route template): the key domain of the feature releases."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    storage: Storage
    tables: Tables
    salts: SaltCache
    pseudonymizer: Pseudonymizer
    consent: ConsentService
    ingest: Ingest
    retention: Retention
    aggregation: Aggregation
    audit: Audit
    erasure: Erasure
    unlisted: UnlistedCounts
    notifications: Notifications
    clock: Clock
    tenants: Tenants
    reports: ReportReader
    funnels: FunnelBuilder
    """The nightly funnel build (the funnel timer, the local host's demo data and the tests)."""
    funnel_reports: FunnelReader
    coverage: Coverage
    tenant_table: TenantTableReader
    markers: Markers
    holders: tuple[Holder, ...]
    """Every family that keeps pseudonymous data, in the order retention, erasure and export
    visit them (shared/privacy/holders.py)."""


def build(
    settings: Settings,
    *,
    storage: Storage | None = None,
    salt_source: SaltSource | None = None,
    clock: Clock = utc_now,
    storage_options: dict[str, Any] | None = None,
) -> Services:
    quiet_azure_sdk()
    if storage is None:
        storage = Storage.connect(
            connection_string=settings.tables_connection_string,
            endpoint=settings.tables_endpoint,
            prefix=settings.table_prefix,
            **(storage_options or {}),
        )
    if salt_source is None:
        if settings.key_vault_url:
            salt_source = KeyVaultSaltSource.connect(settings.key_vault_url, settings.salt_secret_name)
        else:
            assert settings.dev_salt_file is not None
            salt_source = DevSaltSource(settings.dev_salt_file)
    salts = SaltCache(salt_source, ttl=settings.salt_cache_seconds)
    pseudonymizer = Pseudonymizer(salts)
    tables = Tables.over(storage)
    consent = ConsentService(tables.consent, pseudonymizer, settings, clock, tables.events)
    store = tables.reports
    releaser = Releaser(settings.aggregate_min_users, noise=settings.release_noise)
    tenants = Tenants(tables.tenants, pseudonymizer)
    notifications = Notifications(
        tables.notifications,
        pseudonymizer,
        clock,
        k=settings.aggregate_min_users,
        tenants=tenants,
        releaser=releaser,
    )
    holders: tuple[Holder, ...] = (  # consent first: an erasure withdraws before it deletes
        ConsentRecords(consent),
        RawEvents(tables.events, tables.salt_usage, settings, clock),
        ReportInputs(store, tenants, settings.aggregate_min_users),
        NotificationState(
            tables.notifications,
            clock,
            retention_months=settings.retention_months,
            invalidate=notifications.invalidate,
            releaser=releaser,
        ),
    )
    reports = ReportReader(store, tables.tenants, settings.aggregate_min_users, clock)
    coverage = Coverage(tables.coverage, releaser, clock)
    return Services(
        settings=settings,
        storage=storage,
        tables=tables,
        salts=salts,
        pseudonymizer=pseudonymizer,
        consent=consent,
        ingest=Ingest(tables, consent, settings, tenants=tenants),
        retention=Retention(holders, settings, clock, salts),
        aggregation=Aggregation(
            tables.events,
            tables.aggregates,
            settings,
            clock,
            tenants,
            store,
            releaser,
            lambda: Domain(tuple(entry.key for entry in tables.tenants.tenants()), FEATURE_DOMAIN),
        ),
        audit=Audit(tables.audit, pseudonymizer, clock),
        erasure=Erasure(pseudonymizer, holders),
        unlisted=UnlistedCounts(tables.events),
        notifications=notifications,
        clock=clock,
        tenants=tenants,
        reports=reports,
        funnels=FunnelBuilder(tables.events, tables.funnels, tenants, settings, clock),
        funnel_reports=FunnelReader(tables.funnels, settings.aggregate_min_users, clock),
        coverage=coverage,
        tenant_table=TenantTableReader(reports, coverage, settings.aggregate_min_users, clock),
        markers=Markers(tables.markers, clock),
        holders=holders,
    )


_lock = threading.Lock()
_current: Services | None = None


def services() -> Services:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = build(load())
    return _current


def install(new: Services | None) -> None:
    """Replace the process graph (tests, local host, benchmarks); None rebuilds from settings."""
    global _current
    with _lock:
        _current = new
