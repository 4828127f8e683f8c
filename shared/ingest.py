"""Ingestion: principal → consent → pseudonym → validated batch → storage, on every request.

Policy: analytics are "never enabled by default"; "If you decline analytics, no usage data is
collected or sent at all" (DECLINED_MODE=drop, the default), while a deployment may instead keep
declined users' events "without a user identifier — individual events cannot be linked back to
you" (DECLINED_MODE=anonymous). Consent is read from storage for each request — no cache that
could let a withdrawn consent through — and "Withdrawal stops all future collection immediately".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared import telemetry
from shared.consent import ConsentService
from shared.events import EventBatch, IngestResult, StoredEvent, check_batch, minimise_page
from shared.identity import Principal
from shared.logs import log
from shared.settings import Settings
from shared.storage import Tables
from shared.storage.salt_usage import SaltUse

LOG = logging.getLogger("cetegra.ingest")


def keep(tables: Tables, records: Iterable[StoredEvent]) -> int:
    """Store accepted records: first which salt version made data on which day (so retention never
    meets data of a version it does not know about), then the events themselves."""
    records = list(records)
    versions = {(record.day.date(), record.salt_version) for record in records}
    tables.salt_usage.note(SaltUse(day, version) for day, version in versions)
    return tables.events.write(records)


class Ingest:
    def __init__(self, tables: Tables, consent: ConsentService, settings: Settings) -> None:
        self._tables = tables
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
            telemetry.count(telemetry.EVENTS_DROPPED, count, reason=telemetry.DROP_CONSENT)
            return IngestResult(accepted=0, dropped=count)
        else:
            pseudonym = None

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
        keep(self._tables, records)
        telemetry.count(telemetry.EVENTS_ACCEPTED, count, consent=consent.status, salt_version=salt_version)
        log(
            LOG,
            logging.INFO,
            "events.accepted",
            consent=consent.status,
            count=count,
            anonymous=pseudonym is None,
        )
        return IngestResult(accepted=count, dropped=0)
