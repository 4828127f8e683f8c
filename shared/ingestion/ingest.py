"""Ingestion: principal → validated batch → abuse limit → pseudonym → a write conditional on the
user's consent (the consent marker; the consent itself is read when the marker does not vouch).

Policy: analytics are "never enabled by default"; "If you decline analytics, no usage data is
collected or sent at all" (DECLINED_MODE=drop, the default), while a deployment may instead keep
declined users' events "without a user identifier — individual events cannot be linked back to
you" (DECLINED_MODE=anonymous). A user who was never asked (`unset`) has said neither, so their
events are dropped in every mode. Anonymous rows carry no pseudonym, no session id and no user
type, and their times keep the hour only, so nothing on them links events together or singles
out the only admin of a small tenant. "Withdrawal stops all future collection immediately": a
consented user's events are written only in a transaction that is conditional on their consent
marker being as this worker last saw it, and a withdrawal changes the marker before it returns
(shared/storage/events.py: `write_consented`). The consent itself is read whenever the marker is
not known or has changed, never remembered. Pages and apps are stored only as catalogue entries
(shared/ingestion/catalogues.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from shared.ingestion.catalogues import UNLISTED, app_id, page_template
from shared.ingestion.events import EventBatch, IngestResult, check_batch
from shared.ingestion.limits import EventRateLimit
from shared.kernel import telemetry
from shared.kernel.errors import TooManyRequests
from shared.kernel.logs import log
from shared.kernel.periods import coarse_time
from shared.kernel.settings import Settings
from shared.privacy.consent import ConsentService, ConsentState
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import Pseudonyms
from shared.privacy.tenants import Tenants
from shared.storage import Tables
from shared.storage.events import StoredEvent
from shared.storage.salt_usage import SaltUse

LOG = logging.getLogger("cetegra.ingest")
GRANTED = ConsentState("granted", None, None)
"""What a write on a known consent marker knows: the consent stood (its details were not read)."""


def keep(tables: Tables, records: Iterable[StoredEvent]) -> int:
    """Store accepted records: first which salt version made data on which day (so retention never
    meets data of a version it does not know about), then the events themselves."""
    records = list(records)
    note_salts(tables, records)
    return tables.events.write(records)


def note_salts(tables: Tables, records: list[StoredEvent]) -> None:
    """Which salt version makes data on which day, before any of that data is stored."""
    versions = {(record.day.date(), record.salt_version) for record in records}
    tables.salt_usage.note(SaltUse(day, version) for day, version in versions)


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
        pseudonyms = self._consent.pseudonyms(principal)
        records = self._records(principal, batch, received, pseudonyms, exact=True)
        looked_up: list[ConsentState] = []

        def consented() -> bool:
            """Asked only when no consent marker vouches. One that vouches was written with that
            day and salt version's events after a consent read, which noted the salt use first."""
            consent, _ = self._consent.lookup(principal, pseudonyms)
            looked_up.append(consent)
            if consent.granted:
                note_salts(self._tables, records)
            return consent.granted

        if self._tables.events.write_consented(records, consented, received):
            consent = looked_up[-1] if looked_up else GRANTED
            self._note_tenant(principal, pseudonyms)
        elif looked_up[-1].status == "declined" and self._settings.declined_mode == "anonymous":
            consent = looked_up[-1]
            records = self._records(principal, batch, received, pseudonyms, exact=False)
            self._note_tenant(principal, pseudonyms)
            keep(self._tables, records)
        else:
            consent = looked_up[-1]
            log(LOG, logging.INFO, "events.dropped", consent=consent.status, count=count)
            telemetry.count(telemetry.EVENTS_DROPPED, count, reason=telemetry.DROP_CONSENT)
            return IngestResult(accepted=0, dropped=count)
        anonymous = not consent.granted
        telemetry.count(
            telemetry.EVENTS_ACCEPTED, count, consent=consent.status, salt_version=pseudonyms.salt_version
        )
        unlisted_pages = sum(record.page == UNLISTED for record in records)
        unlisted_apps = sum(record.app == UNLISTED for record in records)
        if unlisted_pages:
            telemetry.count(telemetry.EVENTS_DROPPED, unlisted_pages, reason=telemetry.DROP_UNLISTED_PAGE)
        if unlisted_apps:
            telemetry.count(telemetry.EVENTS_DROPPED, unlisted_apps, reason=telemetry.DROP_UNLISTED_APP)
        log(LOG, logging.INFO, "events.accepted", consent=consent.status, count=count, anonymous=anonymous)
        return IngestResult(accepted=count, dropped=0)

    def _note_tenant(self, principal: Principal, pseudonyms: Pseudonyms) -> None:
        if self._tenants is not None:  # links the tenant's stable key on first sight (cached)
            self._tenants.note(principal.tenant_id, pseudonyms)

    def _records(
        self,
        principal: Principal,
        batch: EventBatch,
        received: datetime,
        pseudonyms: Pseudonyms,
        *,
        exact: bool,
    ) -> list[StoredEvent]:
        """The rows to store: exact for a consented user; for a declined user in anonymous mode
        no pseudonym, session id or user type, and the hour only."""
        tenant, salt_version = pseudonyms.tenant_ref, pseudonyms.salt_version
        pseudonym = pseudonyms.event_pseudonym if exact else None
        received_at = received if exact else coarse_time(received)
        user_type = principal.user_type if exact else None
        return [  # positional: StoredEvent's field order (the hot path; keywords cost ~1 us/event)
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
