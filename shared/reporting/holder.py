"""The reports' raw-class data as a holder of pseudonymous data (shared/privacy/holders.py): the
user-day rollup (one row per active user and day) and the first-seen index (each user's first
ISO week), from which the report cells are built.

Both are keyed by the pseudonym and live exactly as long as the raw days they came from (docs/
reports.md): retention drops rollup days with their raw day and forgets first-seen weeks that
left the 24-month window; erasure deletes a user's rows by exact key, and export shows them. The
report cells themselves are counts with no link to a person ("aggregated usage statistics (with
no link to individual users)"), so no holder touches them.
"""

from __future__ import annotations

import logging
from datetime import date

from shared.kernel.logs import log
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.holders import Mode, Outcome, Subject
from shared.privacy.tenants import Tenants
from shared.reporting.build import ReportBuilder
from shared.storage.reports import FirstSeen, ReportsStore, UserDay

LOG = logging.getLogger("cetegra.retention")


class ReportInputs:
    def __init__(self, store: ReportsStore, tenants: Tenants, k: int) -> None:
        self._store = store
        self._tenants = tenants
        self._builder = ReportBuilder(store, Releaser(k))

    def expire(self, keep_from: date) -> Outcome:
        rollup_days, forgotten = self._builder.expire(keep_from)
        log(LOG, logging.INFO, "retention.reports", rollup_days=rollup_days, users_forgotten=forgotten)
        return {}

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        return set()  # rows carry the pseudonym; the salt notes of their raw days cover them

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        """Both modes: a rollup row or first-seen entry is the person's activity, not an event
        that `unlink` could keep anonymously."""
        for day in self._store.user_day_days():
            for identity in subject.identities:
                self._store.delete_user_rows(day, identity.event_pseudonym)
        self._store.delete_first_seen(self._first_seen(subject))
        return {}

    def export(self, subject: Subject) -> Outcome:
        return {
            "activity": [
                {
                    "day": day.isoformat(),
                    "tenant_key": row.tenant,
                    "user_type": row.user_type,
                    "sessions": row.sessions,
                    "events": row.events,
                    "features": [[app, feature, n] for (app, feature), n in sorted(row.features.items())],
                }
                for day, rows in self._rollup(subject)
                for row in rows
            ],
            "first_seen": [
                {
                    "tenant_key": e.tenant,
                    "user_type": e.user_type,
                    "cohort": e.cohort,
                    "last_seen": e.last_seen,
                }
                for e in self._first_seen(subject)
            ],
        }

    def _rollup(self, subject: Subject) -> list[tuple[date, list[UserDay]]]:
        """The user's rollup rows: one exact row-key range per retained day and salt version."""
        found = []
        for day in self._store.user_day_days():
            for identity in subject.identities:
                rows = self._store.user_rows(day, identity.event_pseudonym)
                if rows:
                    found.append((day, rows))
        return found

    def _first_seen(self, subject: Subject) -> list[FirstSeen]:
        key = self._tenants.key_of(subject.tenant_id)
        if key is None:
            return []
        found = []
        for identity in subject.identities:
            entry = self._store.first_seen_of(key, identity.event_pseudonym)
            if entry is not None:
                found.append(entry)
        return found
