"""Consent: analytics stay off until the user says yes, and every decision is provable.

Policy: "When you first access Cetegra Workspace ... you are presented with a consent dialog" and
"You can change or withdraw your consent at any time". Usage analytics rest on "your explicit
consent (Article 6(1)(a) GDPR)", so each change is appended to a history (time, previous → new
status, policy version) as proof. `unset` means off. The record is keyed by a consent key derived
from the Key Vault salt, never by the raw user id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel import telemetry
from shared.kernel.logs import log
from shared.kernel.periods import writable_days
from shared.kernel.settings import POLICY_VERSION_PATTERN, Settings
from shared.privacy.holders import Mode, Outcome, Subject
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import Pseudonymizer, Pseudonyms
from shared.storage.consent import ConsentChange, ConsentRecord, ConsentStore
from shared.storage.events import EventStore

LOG = logging.getLogger("cetegra.consent")

Status = Literal["granted", "declined", "unset"]
REVOKE_SLACK = timedelta(hours=1)
"""Added to the accepted window of client times when choosing the days a withdrawal revokes: a
request received before the withdrawal may still be writing, and instances' clocks differ."""


class ConsentDecision(BaseModel):
    """Body of `PUT /api/consent`: the user's choice under the policy version they were shown."""

    model_config = ConfigDict(extra="forbid", strict=True, title="ConsentDecision")

    status: Literal["granted", "declined"]
    policy_version: str = Field(pattern=POLICY_VERSION_PATTERN, min_length=1, max_length=64)


class ConsentView(BaseModel):
    """What the client needs to decide whether to show the consent dialog."""

    model_config = ConfigDict(title="ConsentView")

    status: Status
    policy_version: str | None
    decided_at: datetime | None
    reprompt: bool
    """True when unset, or when the decision was made under another policy version."""


@dataclass(frozen=True)
class ConsentState:
    """The stored decision as the ingestion path needs it."""

    status: Status
    policy_version: str | None
    decided_at: datetime | None

    @property
    def granted(self) -> bool:
        return self.status == "granted"


UNSET = ConsentState("unset", None, None)


class ConsentService:
    def __init__(
        self,
        store: ConsentStore,
        pseudonymizer: Pseudonymizer,
        settings: Settings,
        clock: Callable[[], datetime],
        events: EventStore | None = None,
    ) -> None:
        self._store = store
        self._pseudonymizer = pseudonymizer
        self._settings = settings
        self._clock = clock
        self._events = events
        """Where a withdrawal invalidates the consent markers that let a worker write a user's
        events without reading the consent (shared/storage/events.py)."""

    def pseudonyms(self, principal: Principal) -> Pseudonyms:
        """The caller's pseudonyms under the current salt."""
        return self._pseudonymizer.current(principal.tenant_id, principal.user_id)

    def lookup(
        self, principal: Principal, current: Pseudonyms | None = None
    ) -> tuple[ConsentState, Pseudonyms]:
        """The caller's decision and current pseudonyms (`current` if given), read from storage
        on every call: a withdrawal must never be outlived by a cache.

        After a salt rotation the record still sits under the old consent key: it is then found
        under an older enabled version and moved to the current key, so a rotation never resets
        anyone's decision (nor reveals it to whoever holds an old salt).
        """
        pseudonyms = current or self.pseudonyms(principal)
        record = self._store.state(pseudonyms.consent_key)
        if record is None:
            record = self._migrate(principal, pseudonyms)
        if record is None:
            return UNSET, pseudonyms
        return ConsentState(cast(Status, record.status), record.policy_version, record.decided_at), pseudonyms

    def _migrate(self, principal: Principal, current: Pseudonyms) -> ConsentRecord | None:
        for older in self._pseudonymizer.previous(current, principal.tenant_id, principal.user_id):
            found, record = self._store.move(older.consent_key, current.consent_key, current.salt_version)
            if not found:
                continue
            log(
                LOG,
                logging.INFO,
                "consent.migrated",
                from_version=older.salt_version,
                to_version=current.salt_version,
            )
            return record
        return None

    def view(self, principal: Principal) -> ConsentView:
        return self._view(self.lookup(principal)[0])

    def decide(self, principal: Principal, decision: ConsentDecision) -> ConsentView:
        """Store a decision and its history entry in one transaction (all or nothing).

        Re-sending the same decision under the same policy version changes nothing and adds no
        history entry: the first decision's time stays the proof.

        A withdrawal ("stops all future collection immediately") is stored, then revokes the
        user's consent markers (shared/storage/events.py). If that failed half-way (503), a
        re-sent withdrawal finds it stored and revokes again; without one, no instance writes on
        a consent read older than MARKER_TRUST (5 minutes).
        """
        if decision.status != "granted":  # a withdrawal must reach every version in use
            self._pseudonymizer.refresh()
        previous, pseudonyms = self.lookup(principal)
        withdrawing = decision.status != "granted" and (
            previous.granted or self._withdrawn_lately(pseudonyms)
        )
        if previous.status == decision.status and previous.policy_version == decision.policy_version:
            if withdrawing:
                self._revoke(self._pseudonymizer.every_version(principal.tenant_id, principal.user_id))
            return self._view(previous)

        now = self._clock()
        self._store.decide(
            pseudonyms.consent_key,
            ConsentRecord(decision.status, decision.policy_version, now, pseudonyms.salt_version),
            ConsentChange(
                at=now,
                previous_status=previous.status,
                status=decision.status,
                policy_version=decision.policy_version,
                previous_policy_version=previous.policy_version or "",
            ),
        )
        if withdrawing:
            self._revoke(self._pseudonymizer.every_version(principal.tenant_id, principal.user_id))
        telemetry.count(telemetry.CONSENT_DECISIONS, status=decision.status, previous=previous.status)
        log(
            LOG,
            logging.INFO,
            "consent.changed",
            previous=previous.status,
            status=decision.status,
            policy_version=decision.policy_version,
        )
        return self._view(ConsentState(decision.status, decision.policy_version, now))

    def history(self, pseudonyms: Pseudonyms) -> list[dict[str, object]]:
        """The proof of consent, oldest first (export and tests)."""
        record = self.record(pseudonyms)
        return record["history"] if record else []

    def record(self, pseudonyms: Pseudonyms) -> dict[str, Any] | None:
        """The stored decision with its history under one consent key, or None (export)."""
        state, history = self._store.read(pseudonyms.consent_key)
        if state is None:
            return None
        return {
            "status": state.status,
            "policy_version": state.policy_version,
            "decided_at": state.decided_at,
            "salt_version": state.salt_version,
            "history": [
                {
                    "at": change.at,
                    "previous_status": change.previous_status,
                    "status": change.status,
                    "policy_version": change.policy_version,
                }
                for change in history
            ],
        }

    def erase(self, identities: list[Pseudonyms]) -> bool:
        """Delete the record and its history under each of the user's consent keys (one per salt
        version); True if there was any.

        A granted consent is first withdrawn as the user would withdraw it (stored, then the
        consent markers revoked), so no instance goes on writing events on its strength while
        the erasure runs; if that fails half-way, a re-run finds the withdrawal and revokes again.
        """
        for pseudonyms in identities:
            state = self._store.state(pseudonyms.consent_key)
            if state is not None and state.status == "granted":
                now, version = self._clock(), state.policy_version or ""
                self._store.decide(
                    pseudonyms.consent_key,
                    ConsentRecord("declined", state.policy_version, now, state.salt_version),
                    ConsentChange(now, "granted", "declined", version, version),
                )
        if any(self._withdrawn_lately(pseudonyms) for pseudonyms in identities):
            self._revoke(identities)
        return any([self._store.erase(pseudonyms.consent_key) for pseudonyms in identities])

    def _withdrawn_lately(self, pseudonyms: Pseudonyms) -> bool:
        """Is the consent under this key off now, after a withdrawal recent enough that a marker
        written before it may still be in a day that takes events (so a revoke may matter)?"""
        state, history = self._store.read(pseudonyms.consent_key)
        if state is None or state.status == "granted":
            return False
        since = self._clock() - timedelta(
            days=1, hours=self._settings.event_max_age_hours, seconds=self._settings.event_max_future_seconds
        )
        return any(
            change.previous_status == "granted" and change.status != "granted" and change.at >= since
            for change in history
        )

    def revoke_days(self) -> list[date]:
        return revoke_days(self._clock(), self._settings)

    def _revoke(self, identities: list[Pseudonyms]) -> None:
        """Invalidate the user's consent markers on every day an event may still be written to:
        from the oldest accepted client time to the furthest-ahead one (settings
        EVENT_MAX_AGE_HOURS, EVENT_MAX_FUTURE_SECONDS), under every salt version's pseudonym."""
        if self._events is None:
            return
        days = self.revoke_days()
        written = self._events.revoke(days, [p.event_pseudonym for p in identities])
        log(LOG, logging.INFO, "consent.markers_revoked", days=len(days), rows=written)

    def _view(self, state: ConsentState) -> ConsentView:
        return ConsentView(
            status=state.status,
            policy_version=state.policy_version,
            decided_at=state.decided_at,
            reprompt=state.status == "unset" or state.policy_version != self._settings.policy_version,
        )


def revoke_days(now: datetime, settings: Settings) -> list[date]:
    """The days a withdrawal revokes the markers of: those an event may still be written to, with
    an hour's slack each side (requests in flight, clock skew between instances); an erasure
    keeps the markers of these days (they guard against late writes)."""
    return writable_days(
        now,
        timedelta(hours=settings.event_max_age_hours) + REVOKE_SLACK,
        timedelta(seconds=settings.event_max_future_seconds) + REVOKE_SLACK,
    )


class ConsentRecords:
    """Consent records as a holder of pseudonymous data (shared/privacy/holders.py). Registered
    first: erasing a granted consent withdraws it (markers revoked) before any other family is
    erased, so no event can be stored behind the erasure. Records are the proof of consent and
    do not expire with the raw data; they are kept under the consent key of the salt version
    current when decided, and a rotation moves them on the next read."""

    def __init__(self, consent: ConsentService) -> None:
        self._consent = consent

    def expire(self, keep_from: date) -> Outcome:
        return {}

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        return set()

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        return {"consent_deleted": self._consent.erase(list(subject.identities))}

    def export(self, subject: Subject) -> Outcome:
        found = (self._consent.record(identity) for identity in subject.identities)
        return {"consent": next((record for record in found if record is not None), None)}
