"""The raw events as a holder of pseudonymous data: the day tables, their consent markers and the
notes of which salt version made data on which day (shared/privacy/holders.py).

Retention: raw events are kept "for a maximum of 24 months in raw form" (cookie policy §4): a
day older than that is dropped whole (one operation per table), and the consent markers of days
that can take no more events go too (they only guard writes). Erasure removes, or in `unlink`
mode anonymises, a user's events under every salt version's pseudonym; export shows them as
stored, with the user's consent markers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from shared.kernel import telemetry
from shared.kernel.logs import log
from shared.kernel.periods import writable_days
from shared.kernel.settings import Settings
from shared.privacy.consent import revoke_days
from shared.privacy.holders import Mode, Outcome, Subject
from shared.storage.events import EventStore, StoredEvent, as_stored
from shared.storage.salt_usage import SaltUsageStore

LOG = logging.getLogger("cetegra.retention")
SEAL_DAYS = 3
"""Days before the writable window whose consent markers each run removes (three nights' slack)."""

Found = list[tuple[date, list[StoredEvent], list[tuple[int, Any]]]]


class RawEvents:
    def __init__(
        self,
        events: EventStore,
        salt_usage: SaltUsageStore,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        self._events = events
        self._salt_usage = salt_usage
        self._settings = settings
        self._noted: tuple[date, set[str]] | None = None
        """The versions noted from `keep_from` on, as the last expiry read them (spares a read)."""
        self._max_age = timedelta(hours=settings.event_max_age_hours)
        self._max_ahead = timedelta(seconds=settings.event_max_future_seconds)
        self._clock = clock

    def expire(self, keep_from: date) -> Outcome:
        """Drop the days before `keep_from`, seal the days that take no more events, forget the
        salt notes of dropped days. Also creates today's and tomorrow's tables ahead, so no
        request meets a missing table."""
        today = self._clock().date()
        for day in (today, today + timedelta(days=1)):
            self._events.ensure_day(day)
        days = self._events.days()
        expired = [day for day in days if day < keep_from]
        operations = 1  # the listing
        for day in expired:
            operations += self._events.delete_day(day)
            log(LOG, logging.INFO, "retention.removed_day", day=day.isoformat())
        markers = self._seal(days)
        oldest = telemetry.retention_outcome(today, keep_from, days, removed=len(expired))
        usage = self._salt_usage.all()
        telemetry.salt_usage(usage, today, keep_from)
        self._salt_usage.forget([use for use in usage if use.day < keep_from])
        self._noted = keep_from, {use.version for use in usage if use.day >= keep_from}
        return {
            "removed_days": expired,
            "removed_periods": len(expired),
            "storage_operations": operations,
            "consent_markers_removed": markers,
            "oldest_raw_day": None if oldest is None else oldest.isoformat(),
            "kept_periods": len(days) - len(expired),
        }

    def _seal(self, days: list[date]) -> int:
        """Remove the consent markers of the last SEAL_DAYS days before the first day that may
        still take events (a missed night is caught up the next)."""
        first = writable_days(self._clock(), self._max_age, self._max_ahead)[0]
        sealed = [day for day in days if first - timedelta(days=SEAL_DAYS) <= day < first]
        removed = sum(self._events.seal(day) for day in sealed)
        if removed:
            log(LOG, logging.INFO, "retention.markers_removed", days=len(sealed), rows=removed)
        return removed

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        noted, self._noted = self._noted, None
        if noted is not None and noted[0] == keep_from:
            return noted[1]
        return {version for day, version in self._salt_usage.all() if day >= keep_from}

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        """The consent holder, registered before this one, has already deleted the consent and
        revoked the markers, so no request stores another event: the deletion finds the last.
        Markers of days that still take events stay (`revoked`), guarding against late writes."""
        affected = 0
        revoked = set(revoke_days(self._clock(), self._settings))  # their markers still guard late writes
        for day, rows, markers in self._find(subject):
            if rows:
                affected += (self._events.delete if mode == "delete" else self._events.unlink)(day, rows)
            for pseudonym, _ in markers:
                if day not in revoked:  # the retention run would remove it, unless it missed nights
                    self._events.drop_marker(day, pseudonym)
        return {"events_affected": affected}

    def export(self, subject: Subject) -> Outcome:
        found = self._find(subject)
        return {
            "events": [
                {"event_id": event.event_id, "day": day.isoformat(), **as_stored(event)}
                for day, rows, _ in found
                for event in rows
            ],
            "consent_markers": [
                {"day": day.isoformat(), **marker}
                for day, _, day_markers in found
                for _, marker in day_markers
            ],
        }

    def _find(self, subject: Subject) -> Found:
        """Per retained day: the user's events under every version, and the consent markers of
        their partitions (pseudonym, the marker's columns)."""
        found = []
        for day in self._events.days():
            rows: list[StoredEvent] = []
            markers: list[tuple[int, Any]] = []
            for identity in subject.identities:
                events, marker = self._events.user_rows(day, identity.event_pseudonym)
                rows += events
                if marker is not None:
                    markers.append((identity.event_pseudonym, marker))
            if rows or markers:
                found.append((day, rows, markers))
        return found
