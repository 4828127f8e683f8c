"""Data-subject rights, operated by Cegal: erasure and export of one user's analytics data.

Policy: "If you would like previously collected data removed, you can submit a data erasure
request", and the pseudonym "can only be correlated with a specific account by Cegal's internal
operations team". So ops supply the user's real ids; the service derives the user's pseudonyms
under every salt version that may still have data and asks every holder of pseudonymous data
(shared/privacy/holders.py, registered in shared/services.py) to erase or export exactly that
user's rows: one exact-partition or exact-key read per retained day and version, never a scan of
everyone's data. The consent holder comes first, so a granted consent is withdrawn (its markers
revoked) before the events are deleted. Aggregates hold no link to anyone and are left as they
are. Erasing twice is harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.logs import log
from shared.privacy.holders import Holder, Mode, Outcome, Subject
from shared.privacy.pseudonyms import Pseudonymizer

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
    def __init__(self, pseudonymizer: Pseudonymizer, holders: Sequence[Holder]) -> None:
        self._pseudonymizer = pseudonymizer
        self._holders = tuple(holders)

    def _subject(self, user_id: str, tenant_id: str) -> Subject:
        return Subject(user_id, tenant_id, tuple(self._pseudonymizer.every_version(tenant_id, user_id)))

    def erase(self, user_id: str, tenant_id: str, mode: Mode) -> Outcome:
        """What each holder erased: `events_affected`, `consent_deleted`,
        `notification_rows_deleted` (the fields of `ErasureResult` but its audit id)."""
        self._pseudonymizer.refresh()  # every version other instances may use
        subject = self._subject(user_id, tenant_id)
        done: Outcome = {"events_affected": 0, "consent_deleted": False, "notification_rows_deleted": 0}
        for holder in self._holders:
            done |= holder.erase(subject, mode)
        log(
            LOG,
            logging.INFO,
            "erasure.done",
            mode=mode,
            events_affected=done["events_affected"],
            consent_deleted=done["consent_deleted"],
            salt_versions=len(subject.identities),
        )
        return done

    def export(self, user_id: str, tenant_id: str) -> ExportResult:
        subject = self._subject(user_id, tenant_id)
        found: dict[str, Any] = {"consent": None, "events": []}
        for holder in self._holders:
            found |= holder.export(subject)
        log(
            LOG,
            logging.INFO,
            "export.done",
            events=len(found["events"]),
            consent=found["consent"] is not None,
        )
        return ExportResult(**found)
