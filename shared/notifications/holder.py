"""Notification state and survey answers as a holder of pseudonymous data (shared/privacy/
holders.py): who saw or dismissed which item, and who answered what, under the notification key
(a pseudonym of its own: 001 "a pseudonymous user identifier and company association may be
used ... only for product communication and feedback").

They are not analytics, so they are deleted in either erasure mode; retention removes the state
of items archived or ended long ago, and answers and state older than the raw data's 24 months.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from shared.kernel.logs import log
from shared.kernel.periods import months_before
from shared.notifications.reach import Reach
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.holders import Mode, Outcome, Subject
from shared.storage.notifications import NotificationStore

LOG = logging.getLogger("cetegra.erasure")
EXPIRY_LOG = logging.getLogger("cetegra.notifications")

ARCHIVED_STATE_DAYS = 30
"""Seen/dismissed/answered state of an item is deleted this long after it was archived or its
window ended: it is needed only while the item can still be shown."""


class NotificationState:
    def __init__(
        self,
        store: NotificationStore,
        clock: Callable[[], datetime],
        *,
        retention_months: int,
        invalidate: Callable[[], None],
        k: int = 5,
        releaser: Releaser | None = None,
    ) -> None:
        """`invalidate` drops the live items the delivery caches (`Notifications.invalidate`),
        which an erasure does; `releaser` draws the reach releases retention makes before it
        removes state (by default real noise at `k`)."""
        self._store = store
        self._clock = clock
        self._months = retention_months
        self._invalidate = invalidate
        self._reach = Reach(store, clock, releaser=releaser or Releaser(k))

    def expire(self, keep_from: date) -> Outcome:
        """Daily (retention timer): state of items archived or ended more than ARCHIVED_STATE_DAYS
        ago; answers and any state older than the raw data's retention (24 months)."""
        now = self._clock()
        done_before = now - timedelta(days=ARCHIVED_STATE_DAYS)
        finished = [
            item
            for item in self._store.items()
            if item.state_removed_at is None
            and (
                (item.archived_at is not None and item.archived_at < done_before)
                or item.ends_at < done_before
            )
        ]
        cutoff = datetime.combine(months_before(now.date(), self._months), datetime.min.time(), now.tzinfo)
        # every closed day of every item is released (and stored) before any state goes: the
        # released rows outlive it, and the per-month bound needs a person's other items
        self._reach.release()
        removed = 0
        for item in finished:  # each finished item is looked at once, not every day forever
            removed += self._store.delete_state(self._store.state_for_items([item.item_id]))
            self._store.save_item(replace(item, state_removed_at=now))
        removed += self._store.delete_state(self._store.state_updated_before(cutoff))
        answers = self._store.delete_answers(self._store.answers_before(cutoff))
        log(EXPIRY_LOG, logging.INFO, "notifications.expired", state_rows=removed, answers=answers)
        return {"notification_rows_removed": removed + answers}

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        """Versions that notification state or answers still depend on (for retention)."""
        return self._store.salt_versions()

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        """Delete state and answers under every salt version's key."""
        removed = 0
        for identity in subject.identities:
            removed += self._store.delete_partition_state(identity.notification_key)
            answers = self._store.answers_by(identity.notification_key)
            removed += self._store.delete_answers((a.item_id, a.key) for a in answers)
        self._invalidate()
        log(LOG, logging.INFO, "erasure.notifications", rows=removed)
        return {"notification_rows_deleted": removed}

    def export(self, subject: Subject) -> Outcome:
        state: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        cadences: list[dict[str, Any]] = []
        for identity in subject.identities:
            for row in self._store.state(identity.notification_key):
                state.append(
                    {
                        "item": row.item_id,
                        "tenant": row.tenant,
                        "user_type": row.user_type,
                        "salt_version": row.salt_version,
                        "seen_at": row.seen_at,
                        "dismissed_at": row.dismissed_at,
                        "answered_at": row.answered_at,
                        "delivered_at": row.delivered_at,
                        "opened_at": row.opened_at,
                    }
                )
            cadence = self._store.cadence(identity.notification_key)
            if cadence is not None:
                cadences.append(
                    {
                        "salt_version": cadence.salt_version,
                        "first_seen_at": cadence.first_seen_at,
                        "last_prompt_at": cadence.last_prompt_at,
                        "last_answer_at": cadence.last_answer_at,
                        "last_dismiss_at": cadence.last_dismiss_at,
                        "delivered": cadence.delivered,
                    }
                )
            for a in self._store.answers_by(identity.notification_key):
                answers.append(
                    {
                        "item": a.item_id,
                        "tenant": a.tenant,
                        "user_type": a.user_type,
                        "salt_version": a.salt_version,
                        "value": a.value,
                        "comment": a.comment,
                        "answered_at": a.answered_at,
                    }
                )
        return {"notifications": {"state": state, "answers": answers, "cadence": cadences}}
