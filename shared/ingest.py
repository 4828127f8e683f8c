"""Ingestion: principal → abuse limit → consent → pseudonym → validated batch → storage.

Policy: analytics are "never enabled by default"; "If you decline analytics, no usage data is
collected or sent at all" (DECLINED_MODE=drop, the default), while a deployment may instead keep
declined users' events "without a user identifier — individual events cannot be linked back to
you" (DECLINED_MODE=anonymous). A user who was never asked (`unset`) has said neither, so their
events are dropped in every mode. Anonymous rows carry no pseudonym, no session id and no user
type, and their times keep the hour only, so nothing on them links events together or singles
out the only admin of a small tenant. Consent is read from storage for each request — no cache
that could let a withdrawn consent through — and "Withdrawal stops all future collection
immediately". Pages and apps are stored only as catalogue entries (shared/catalogues.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared import telemetry
from shared.catalogues import UNLISTED, app_id, page_template
from shared.consent import ConsentService
from shared.errors import TooManyRequests
from shared.events import EventBatch, IngestResult, StoredEvent, check_batch, coarse_time
from shared.identity import Principal
from shared.limits import EventRateLimit
from shared.logs import log
from shared.settings import Settings
from shared.storage import Tables
from shared.storage.salt_usage import SaltUse
from shared.tenants import Tenants

LOG = logging.getLogger("cetegra.ingest")


def keep(tables: Tables, records: Iterable[StoredEvent]) -> int:
    """Store accepted records: first which salt version made data on which day (so retention never
    meets data of a version it does not know about), then the events themselves."""
    records = list(records)
    versions = {(record.day.date(), record.salt_version) for record in records}
    tables.salt_usage.note(SaltUse(day, version) for day, version in versions)
    return tables.events.write(records)


class Ingest:
    def __init__(
        self,
        tables: Tables,
        consent: ConsentService,
        settings: Settings,
        limit: EventRateLimit | None = None,
        tenants: Tenants | None = None,
    ) -> None:
        self._tables = tables
        self._tenants = tenants
        self._consent = consent
        self._settings = settings
        self._max_age = timedelta(hours=settings.event_max_age_hours)
        self._max_ahead = timedelta(seconds=settings.event_max_future_seconds)
        self.limit = limit or EventRateLimit(settings.events_per_minute)

    def accept(self, principal: Principal, batch: EventBatch, received: datetime) -> IngestResult:
        """Validate the whole batch, then store all of it or nothing."""
        check_batch(batch, received, self._max_age, self._max_ahead)
        count = len(batch.events)
        try:
            self.limit.charge(principal, count)  # 429 before any storage or vault work
        except TooManyRequests:
            telemetry.count(telemetry.EVENTS_DROPPED, count, reason=telemetry.DROP_LIMIT)
            raise
        consent, pseudonyms = self._consent.lookup(principal)
        anonymous = False
        if consent.granted:
            pseudonym: int | None = pseudonyms.event_pseudonym
        elif consent.status == "declined" and self._settings.declined_mode == "anonymous":
            pseudonym, anonymous = None, True
        else:
            log(LOG, logging.INFO, "events.dropped", consent=consent.status, count=count)
            telemetry.count(telemetry.EVENTS_DROPPED, count, reason=telemetry.DROP_CONSENT)
            return IngestResult(accepted=0, dropped=count)

        if self._tenants is not None:  # links the tenant's stable key on first sight (cached)
            self._tenants.note(principal.tenant_id, pseudonyms)
        tenant, salt_version = pseudonyms.tenant_ref, pseudonyms.salt_version
        exact = not anonymous  # anonymous rows: no session id, no user type, the hour only
        received_at = received if exact else coarse_time(received)
        user_type = principal.user_type if exact else None
        records = [  # positional: StoredEvent's field order (the hot path; keywords cost ~1 us/event)
            StoredEvent(
                event.event_id,
                event.name,
                event.session_id if exact else None,
                received_at,
                event.ts if exact or event.ts is None else coarse_time(event.ts),
                None if event.app is None else app_id(event.app),
                None if event.page is None else page_template(event.page),
                tenant,
                user_type,
                pseudonym,
                salt_version,
            )
            for event in batch.events
        ]
        keep(self._tables, records)
        telemetry.count(telemetry.EVENTS_ACCEPTED, count, consent=consent.status, salt_version=salt_version)
        unlisted_pages = sum(record.page == UNLISTED for record in records)
        unlisted_apps = sum(record.app == UNLISTED for record in records)
        if unlisted_pages:
            telemetry.count(telemetry.EVENTS_DROPPED, unlisted_pages, reason=telemetry.DROP_UNLISTED_PAGE)
        if unlisted_apps:
            telemetry.count(telemetry.EVENTS_DROPPED, unlisted_apps, reason=telemetry.DROP_UNLISTED_APP)
        log(LOG, logging.INFO, "events.accepted", consent=consent.status, count=count, anonymous=anonymous)
        return IngestResult(accepted=count, dropped=0)
