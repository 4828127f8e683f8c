"""Notification state and survey answers as a holder of pseudonymous data (shared/privacy/
holders.py): who saw or dismissed which item, and who answered what, under the notification key
(a pseudonym of its own: 001 "a pseudonymous user identifier and company association may be
used ... only for product communication and feedback").

They are not analytics, so they are deleted in either erasure mode; retention removes the state
of items archived or ended long ago, and answers and state older than the raw data's 24 months.
"""

from __future__ import annotations

import logging
from datetime import date

from shared.kernel.logs import log
from shared.notifications.service import Notifications
from shared.privacy.holders import Mode, Outcome, Subject

LOG = logging.getLogger("cetegra.erasure")


class NotificationState:
    def __init__(self, notifications: Notifications) -> None:
        self._notifications = notifications

    def expire(self, keep_from: date) -> Outcome:
        return {"notification_rows_removed": self._notifications.expire()}

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        return self._notifications.salt_versions_in_use()

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        removed = self._notifications.erase(list(subject.identities))
        log(LOG, logging.INFO, "erasure.notifications", rows=removed)
        return {"notification_rows_deleted": removed}

    def export(self, subject: Subject) -> Outcome:
        found = self._notifications.export(list(subject.identities))
        return {"notifications": {"state": found.state, "answers": found.answers}}
