"""Audit: every call to an ops route is recorded — who (pseudonymously), when, what, counts.

Ops routes can erase, export and expire data, so each call leaves a record in its own table,
partitioned by day. The record holds the operator as a pseudonymous reference (resolvable only
with the Key Vault salt), the operation, the HTTP status and the response's counts — never a raw
user id, a tenant id or a request body.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shared.errors import ServiceUnavailable
from shared.identity import Principal
from shared.logs import log
from shared.pseudonyms import Pseudonymizer
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


def new_audit_id() -> str:
    return uuid.uuid4().hex


class Audit:
    def __init__(
        self, store: AuditStore, pseudonymizer: Pseudonymizer, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._pseudonymizer = pseudonymizer
        self._clock = clock

    def record(
        self, audit_id: str, operation: str, principal: Principal | None, status: int, result: Any
    ) -> None:
        """Write the record; raises StorageUnavailable so an unaudited ops call is not reported as done."""
        now = self._clock()
        self._store.write(
            AuditRecord(
                audit_id=audit_id,
                at=now,
                operation=operation,
                actor=self._actor(principal),
                status=status,
                counts=json.dumps(_counts(result), default=str, sort_keys=True),
            )
        )
        log(LOG, logging.INFO, "audit.recorded", operation=operation, status=status, audit_id=audit_id)

    def _actor(self, principal: Principal | None) -> str:
        if principal is None:
            return "(unauthenticated)"
        try:
            return self._pseudonymizer.current(principal.tenant_id, principal.user_id).operator_ref
        except ServiceUnavailable:
            return "(salt unavailable)"


def _counts(result: Any) -> dict[str, Any]:
    if not isinstance(result, dict):
        return {}
    return {
        key: (len(value) if isinstance(value, list) else value)
        for key, value in result.items()
        if key in COUNT_FIELDS
    }
