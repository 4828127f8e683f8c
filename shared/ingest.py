"""Ingestion: principal → consent → pseudonym → validated batch → storage, on every request.

Policy: analytics are "never enabled by default"; "If you decline analytics, no usage data is
collected or sent at all" (DECLINED_MODE=drop, the default), while a deployment may instead keep
declined users' events "without a user identifier — individual events cannot be linked back to
you" (DECLINED_MODE=anonymous). Consent is read from storage for each request — no cache that
could let a withdrawn consent through — and "Withdrawal stops all future collection immediately".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from shared.consent import ConsentService
from shared.events import EventBatch, IngestResult, StoredEvent, check_batch, minimise_page
from shared.identity import Principal
from shared.logs import log
from shared.settings import Settings
from shared.storage import Storage
from shared.tenants import Tenants

LOG = logging.getLogger("cetegra.ingest")


class Ingest:
    def __init__(
        self, storage: Storage, consent: ConsentService, settings: Settings, tenants: Tenants | None = None
    ) -> None:
        self._storage = storage
        self._tenants = tenants
        self._consent = consent
        self._settings = settings
        self._max_age = timedelta(hours=settings.event_max_age_hours)
        self._max_ahead = timedelta(seconds=settings.event_max_future_seconds)

    def accept(self, principal: Principal, batch: EventBatch, received: datetime) -> IngestResult:
        """Validate the whole batch, then store all of it or nothing."""
        check_batch(batch, received, self._max_age, self._max_ahead)
        consent, pseudonyms = self._consent.lookup(principal)
        count = len(batch.events)
        if consent.granted:
            pseudonym: int | None = pseudonyms.event_pseudonym
        elif self._settings.declined_mode == "drop":
            log(LOG, logging.INFO, "events.dropped", consent=consent.status, count=count)
            return IngestResult(accepted=0, dropped=count)
        else:
            pseudonym = None

        if self._tenants is not None:  # links the tenant's stable key on first sight (cached)
            self._tenants.note(principal.tenant_id, pseudonyms)
        tenant, user_type, salt_version = pseudonyms.tenant_ref, principal.user_type, pseudonyms.salt_version
        minimise = minimise_page
        records = [  # positional: StoredEvent's field order (the hot path; keywords cost ~1 us/event)
            StoredEvent(
                event.event_id,
                event.name,
                event.session_id,
                received,
                event.ts,
                event.app,
                None if event.page is None else minimise(event.page),
                tenant,
                user_type,
                pseudonym,
                salt_version,
            )
            for event in batch.events
        ]
        self._storage.write_events(records)
        log(
            LOG,
            logging.INFO,
            "events.accepted",
            consent=consent.status,
            count=count,
            anonymous=pseudonym is None,
        )
        return IngestResult(accepted=count, dropped=0)
