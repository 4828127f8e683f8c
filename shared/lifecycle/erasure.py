"""Data-subject rights, operated by Cegal: erasure and export of one user's analytics data.

Policy: "If you would like previously collected data removed, you can submit a data erasure
request", and the pseudonym "can only be correlated with a specific account by Cegal's internal
operations team". So ops supply the user's real ids; the service derives the user's pseudonyms
under every salt version that may still have data, and touches only that user's partitions: one
exact-partition query per retained day per version, never a scan of everyone's events.
Aggregates hold no link to anyone and are left as they are. The reports' raw-class data (the
user's rows of the user-day rollup and the first-seen index) is pseudonymous like the events, so
it is erased (both modes: an unlinked user has no rollup) and exported with them, by exact key.
Erasing twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.logs import log
from shared.privacy.consent import ConsentService
from shared.privacy.pseudonyms import Pseudonymizer, Pseudonyms
from shared.privacy.tenants import Tenants
from shared.storage.events import EventStore, StoredEvent, as_stored
from shared.storage.reports import FirstSeen, ReportsStore, UserDay

if TYPE_CHECKING:
    from shared.notifications.service import NotificationExport, Notifications

LOG = logging.getLogger("cetegra.erasure")

Id = Field(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")


class SubjectRequest(BaseModel):
    """Whose data: the raw Entra ids, known to the requester and to the ops team only."""

    model_config = ConfigDict(extra="forbid", strict=True, title="SubjectRequest")

    user_id: str = Id
    tenant_id: str = Id


class ErasureRequest(SubjectRequest):
    model_config = ConfigDict(extra="forbid", strict=True, title="ErasureRequest")

    mode: Literal["delete", "unlink"]
    """`delete` removes the raw events; `unlink` keeps them without the pseudonym (anonymous)."""


class ErasureResult(BaseModel):
    model_config = ConfigDict(title="ErasureResult")

    events_affected: int
    consent_deleted: bool
    notification_rows_deleted: int = 0
    """Seen/dismissed state and survey answers (deleted in either mode: they are not analytics)."""
    audit_id: str


class ExportResult(BaseModel):
    """For the data-protection officer: the consent record and raw events as stored."""

    model_config = ConfigDict(title="ExportResult")

    consent: dict[str, Any] | None
    events: list[dict[str, Any]]
    notifications: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """`state` (seen/dismissed/answered per item) and `answers` (value, comment) as stored."""
    activity: list[dict[str, Any]] = []
    """The user's rows of the reports' daily rollup (day, user type, sessions, events, features)."""
    first_seen: list[dict[str, Any]] = []
    """The user's entry in the reports' first-seen-week index."""
    consent_markers: list[dict[str, Any]] = []
    """The user's consent markers in the raw-event tables (day, `state`, `checked`): the rows
    that let a request be stored without a consent read (docs/storage.md)."""


class Erasure:
    def __init__(
        self,
        events: EventStore,
        pseudonymizer: Pseudonymizer,
        consent: ConsentService,
        notifications: Notifications | None = None,
        tenants: Tenants | None = None,
        reports: ReportsStore | None = None,
    ) -> None:
        self._events = events
        self._tenants = tenants
        self._reports = reports
        self._pseudonymizer = pseudonymizer
        self._consent = consent
        self._notifications = notifications

    def erase(self, user_id: str, tenant_id: str, mode: Literal["delete", "unlink"]) -> tuple[int, bool]:
        """Returns (events deleted or unlinked, whether a consent record was deleted).

        Notification state and answers are erased too: `erase_notifications`.

        The consent goes first: once it is deleted (and, if it was granted, revoked as a
        withdrawal is), no request can store another event, so the deletion below finds the
        last of them."""
        self._pseudonymizer.refresh()  # every version other instances may use
        identities = self._pseudonymizer.every_version(tenant_id, user_id)
        consent_deleted = self._consent.erase(identities)
        affected = 0
        revoked = set(self._consent.revoke_days())  # their markers still guard against late writes
        for day, rows, markers in self._find(identities):
            if rows:
                affected += (self._events.delete if mode == "delete" else self._events.unlink)(day, rows)
            for pseudonym, _ in markers:
                if day not in revoked:  # the retention run would remove it, unless it missed nights
                    self._events.drop_marker(day, pseudonym)
        if self._reports is not None:
            for day in self._reports.user_day_days():
                for identity in identities:
                    self._reports.delete_user_rows(day, identity.event_pseudonym)
        for entry in self._first_seen(tenant_id, identities):
            assert self._reports is not None
            self._reports.delete_first_seen([entry])
        log(
            LOG,
            logging.INFO,
            "erasure.done",
            mode=mode,
            events_affected=affected,
            consent_deleted=consent_deleted,
            salt_versions=len(identities),
        )
        return affected, consent_deleted

    def export(self, user_id: str, tenant_id: str) -> ExportResult:
        identities = self._pseudonymizer.every_version(tenant_id, user_id)
        consent = next((record for p in identities if (record := self._consent.record(p)) is not None), None)
        found = self._find(identities)
        events = [
            {"event_id": event.event_id, "day": day.isoformat(), **as_stored(event)}
            for day, rows, _ in found
            for event in rows
        ]
        markers = [
            {"day": day.isoformat(), **marker} for day, _, day_markers in found for _, marker in day_markers
        ]
        activity = [
            {
                "day": day.isoformat(),
                "tenant_key": row.tenant,
                "user_type": row.user_type,
                "sessions": row.sessions,
                "events": row.events,
                "features": [[app, feature, n] for (app, feature), n in sorted(row.features.items())],
            }
            for day, rows in self._rollup(identities)
            for row in rows
        ]
        first_seen = [
            {"tenant_key": e.tenant, "user_type": e.user_type, "cohort": e.cohort, "last_seen": e.last_seen}
            for e in self._first_seen(tenant_id, identities)
        ]
        log(LOG, logging.INFO, "export.done", events=len(events), consent=consent is not None)
        notifications = self._notification_export(identities)
        return ExportResult(
            consent=consent,
            events=events,
            activity=activity,
            first_seen=first_seen,
            consent_markers=markers,
            notifications={"state": notifications.state, "answers": notifications.answers}
            if notifications is not None
            else {},
        )

    def _tenant_key(self, tenant_id: str) -> str | None:
        return None if self._tenants is None else self._tenants.key_of(tenant_id)

    def _rollup(self, identities: list[Pseudonyms]) -> list[tuple[date, list[UserDay]]]:
        """The user's rollup rows: one exact row-key range per retained day and salt version."""
        if self._reports is None:
            return []
        found = []
        for day in self._reports.user_day_days():
            for identity in identities:
                rows = self._reports.user_rows(day, identity.event_pseudonym)
                if rows:
                    found.append((day, rows))
        return found

    def _first_seen(self, tenant_id: str, identities: list[Pseudonyms]) -> list[FirstSeen]:
        key = self._tenant_key(tenant_id)
        if key is None or self._reports is None:
            return []
        found = []
        for identity in identities:
            entry = self._reports.first_seen_of(key, identity.event_pseudonym)
            if entry is not None:
                found.append(entry)
        return found

    def erase_notifications(self, user_id: str, tenant_id: str) -> int:
        """Seen/dismissed state and survey answers under every salt version; rows deleted."""
        if self._notifications is None:
            return 0
        removed = self._notifications.erase(self._pseudonymizer.every_version(tenant_id, user_id))
        log(LOG, logging.INFO, "erasure.notifications", rows=removed)
        return removed

    def _notification_export(self, identities: list[Pseudonyms]) -> NotificationExport | None:
        return None if self._notifications is None else self._notifications.export(identities)

    def _find(
        self, identities: list[Pseudonyms]
    ) -> list[tuple[date, list[StoredEvent], list[tuple[int, Any]]]]:
        """Per retained day: the user's events under every version, and the consent markers of
        their partitions (pseudonym, the marker's columns)."""
        found = []
        for day in self._events.days():
            rows: list[StoredEvent] = []
            markers: list[tuple[int, Any]] = []
            for identity in identities:
                events, marker = self._events.user_rows(day, identity.event_pseudonym)
                rows += events
                if marker is not None:
                    markers.append((identity.event_pseudonym, marker))
            if rows or markers:
                found.append((day, rows, markers))
        return found
