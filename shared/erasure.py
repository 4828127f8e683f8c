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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.consent import ConsentService
from shared.logs import log
from shared.pseudonyms import Pseudonymizer, Pseudonyms
from shared.reports_store import FirstSeen, ReportsStore, UserDay
from shared.storage import Storage
from shared.tenants import Tenants

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
    audit_id: str


class ExportResult(BaseModel):
    """For the data-protection officer: the consent record and raw events as stored."""

    model_config = ConfigDict(title="ExportResult")

    consent: dict[str, Any] | None
    events: list[dict[str, Any]]
    activity: list[dict[str, Any]] = []
    """The user's rows of the reports' daily rollup (day, user type, sessions, events, features)."""
    first_seen: list[dict[str, Any]] = []
    """The user's entry in the reports' first-seen-week index."""


EXPORT_FIELDS = (
    "name",
    "session_id",
    "received",
    "ts",
    "app",
    "page",
    "tenant",
    "user_type",
    "pseudonym",
    "salt_version",
)


class Erasure:
    def __init__(
        self,
        storage: Storage,
        pseudonymizer: Pseudonymizer,
        consent: ConsentService,
        tenants: Tenants | None = None,
        reports: ReportsStore | None = None,
    ) -> None:
        self._storage = storage
        self._tenants = tenants
        self._reports = reports
        self._pseudonymizer = pseudonymizer
        self._consent = consent

    def erase(self, user_id: str, tenant_id: str, mode: Literal["delete", "unlink"]) -> tuple[int, bool]:
        """Returns (events deleted or unlinked, whether a consent record was deleted)."""
        identities = self._pseudonymizer.every_version(tenant_id, user_id)
        affected = 0
        for day, rows in self._events(identities):
            affected += (self._storage.delete_events if mode == "delete" else self._storage.unlink_events)(
                day, rows
            )
        if self._reports is not None:
            for day in self._reports.user_day_days():
                for identity in identities:
                    self._reports.delete_user_rows(day, identity.event_pseudonym)
        for entry in self._first_seen(tenant_id, identities):
            assert self._reports is not None
            self._reports.delete_first_seen([entry])
        consent_deleted = [self._consent.erase(p) for p in identities]
        log(
            LOG,
            logging.INFO,
            "erasure.done",
            mode=mode,
            events_affected=affected,
            consent_deleted=any(consent_deleted),
            salt_versions=len(identities),
        )
        return affected, any(consent_deleted)

    def export(self, user_id: str, tenant_id: str) -> ExportResult:
        identities = self._pseudonymizer.every_version(tenant_id, user_id)
        consent = next((record for p in identities if (record := self._consent.record(p)) is not None), None)
        events = [
            {
                "event_id": row["RowKey"],
                "day": day.isoformat(),
                **{k: row[k] for k in EXPORT_FIELDS if k in row},
            }
            for day, rows in self._events(identities)
            for row in rows
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
        return ExportResult(consent=consent, events=events, activity=activity, first_seen=first_seen)

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
            row = self._reports.first_seen_of(key, identity.event_pseudonym)
            if row is not None:
                found.append(
                    FirstSeen(
                        key,
                        identity.event_pseudonym,
                        str(row["user_type"]),
                        str(row["cohort"]),
                        str(row["last_seen"]),
                    )
                )
        return found

    def _events(self, identities: list[Pseudonyms]) -> list[tuple[date, list[dict[str, Any]]]]:
        found = []
        for day in self._storage.event_days():
            for identity in identities:
                rows = self._storage.user_events(day, identity.event_pseudonym)
                if rows:
                    found.append((day, rows))
        return found
