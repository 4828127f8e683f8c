"""Audit: every ops and authoring call is recorded — who, when, which route, on what, counts.

Ops routes can erase, export and expire data, so each call leaves a record in its own table,
partitioned by day, that answers "who exported whose data": the actor and, for a call about one
person, the subject, both as the same keyed reference (`Pseudonyms.audit_ref`: resolvable only
with the Key Vault salt, through `POST /api/ops/audit/reference`); for other calls the stable
tenant key, the item id or the day range acted on. The policy says the pseudonymous identifier
"can only be correlated with a specific account by Cegal's internal operations team": so the
record never holds a raw user id, tenant id, e-mail, name or request body, and neither does a
reference's lookup.

Targets are `kind:value` strings: `subject:o…`, `tenant:k…`, `item:<id>`, `marker:<id>`,
`days:<from>..<to>`; empty when a call acted on nothing in particular (a retention run, a list) or
was refused before its request was read. A call that makes its target from another record also
names that one as the record's `source`, in the same form: a duplicate's target is the copy
(`item:<new>`), its source the item copied (`item:<old>`). Every other record's source is empty.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.kernel.errors import ServiceUnavailable
from shared.kernel.logs import log
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import Pseudonymizer
from shared.storage.audit import AuditRecord, AuditStore

LOG = logging.getLogger("cetegra.audit")
COUNT_FIELDS = (
    "events_affected",
    "consent_deleted",
    "notification_rows_deleted",
    "notification_rows_removed",
    "consent_markers_removed",
    "removed_periods",
    "built_days",
    "built_months",
    "built_weeks",
    "report_cells",
    "events",
    "cells",
    "suppressed_events",
    "salt_versions",
)


SALT_UNAVAILABLE = "(salt unavailable)"


class AuditReference(BaseModel):
    model_config = ConfigDict(title="AuditReference")

    salt_version: str
    reference: str
    """As the audit table's `actor` and `subject:` targets hold it for records of that version."""


class AuditReferences(BaseModel):
    """A known person's audit reference under every enabled salt version, newest first."""

    model_config = ConfigDict(title="AuditReferences")

    references: list[AuditReference]


def new_audit_id() -> str:
    return uuid.uuid4().hex


def tenant_target(key: str) -> str:
    return f"tenant:{key}"


def item_target(item_id: str) -> str:
    return f"item:{item_id}"


def days_target(first: date, last: date) -> str:
    return f"days:{first.isoformat()}..{last.isoformat()}"


class Audit:
    def __init__(
        self, store: AuditStore, pseudonymizer: Pseudonymizer, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._pseudonymizer = pseudonymizer
        self._clock = clock

    def record(
        self,
        audit_id: str,
        operation: str,
        principal: Principal | None,
        status: int,
        result: Any,
        target: str = "",
        source: str = "",
    ) -> None:
        """Write the record; raises StorageUnavailable so an unaudited ops call is not reported as done."""
        now = self._clock()
        self._store.write(
            AuditRecord(
                audit_id=audit_id,
                at=now,
                operation=operation,
                actor=self._actor(principal),
                target=target,
                status=status,
                counts=json.dumps(_counts(result), default=str, sort_keys=True),
                source=source,
            )
        )
        log(LOG, logging.INFO, "audit.recorded", operation=operation, status=status, audit_id=audit_id)

    def _actor(self, principal: Principal | None) -> str:
        if principal is None:
            return "(unauthenticated)"
        return self.reference(principal.tenant_id, principal.user_id)

    def reference(self, tenant_id: str, user_id: str) -> str:
        """A person's audit reference under the current salt (the actor of a call, or its subject)."""
        try:
            return self._pseudonymizer.current(tenant_id, user_id).audit_ref
        except ServiceUnavailable:
            return SALT_UNAVAILABLE

    def subject_target(self, tenant_id: str, user_id: str) -> str:
        """The target of a call about one person's data (export, erasure): never their raw ids."""
        return f"subject:{self.reference(tenant_id, user_id)}"

    def references(self, tenant_id: str, user_id: str) -> AuditReferences:
        """For an auditor: a known person's reference under every enabled salt version, to find
        them in the `actor` and `subject:` targets of records written under any of them."""
        return AuditReferences(
            references=[
                AuditReference(salt_version=p.salt_version, reference=p.audit_ref)
                for p in self._pseudonymizer.every_version(tenant_id, user_id)
            ]
        )


def _counts(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        return {}
    return {
        key: (len(value) if isinstance(value, list) else value)
        for key, value in result.items()
        if key in COUNT_FIELDS
    }
