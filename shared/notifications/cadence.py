"""Survey cadence: when a user may be asked a survey at all, enforced by the server.

A survey that pops up on every reload, on a user's first day, or right after they answered or
closed one, is what makes people stop answering ("after answering the demo's NPS, the
next NPS popped up on reload"). So `GET /api/notifications` offers a survey only when the
deployment's cadence (app settings `SURVEY_*`, readable by authors) allows it:

* not before the user's `first_day`-th day, counted from the first time the notification centre
  asked for the user's items (`first_seen_at` of the user's cadence row; day 1 is that day);
* at most one survey prompt per `interval_days`: a prompt is a survey the client reported as
  shown (`seen`); until the interval has passed, no survey is offered, not even the one the user
  postponed with "not now"; and with an interval, one survey per answer at most;
* no survey for `pause_after_answer_days` after an answer and `pause_after_dismiss_days` after a
  dismissal ("don't ask again").

Notifications are never held back: the cadence is about questions, not announcements. The
cadence row lives in the user's state partition (`c`), so checking it costs no extra read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.kernel.settings import Settings
from shared.notifications.models import CadenceView
from shared.storage.notifications import CadenceRecord


@dataclass(frozen=True)
class Cadence:
    """The deployment's survey cadence; the default asks without any limit (the domain's old
    behaviour, for callers without settings such as the demo data)."""

    first_day: int = 1
    interval_days: int = 0
    pause_after_answer_days: int = 0
    pause_after_dismiss_days: int = 0

    @classmethod
    def of(cls, settings: Settings) -> Cadence:
        return cls(
            first_day=settings.survey_first_day,
            interval_days=settings.survey_interval_days,
            pause_after_answer_days=settings.survey_pause_after_answer_days,
            pause_after_dismiss_days=settings.survey_pause_after_dismiss_days,
        )

    def view(self) -> CadenceView:
        return CadenceView(
            first_day=self.first_day,
            interval_days=self.interval_days,
            pause_after_answer_days=self.pause_after_answer_days,
            pause_after_dismiss_days=self.pause_after_dismiss_days,
        )

    @property
    def one_at_a_time(self) -> bool:
        """With an interval, at most one survey is offered per request (two would be two prompts)."""
        return self.interval_days > 0

    def allows_survey(self, row: CadenceRecord | None, now: datetime) -> bool:
        """May a survey be offered to this user now? (`row` None: the user is new this request.)"""
        first = now if row is None else row.first_seen_at
        if now < first + timedelta(days=self.first_day - 1):
            return False
        if row is None:
            return True
        waits = (
            (row.last_prompt_at, self.interval_days),
            (row.last_answer_at, self.pause_after_answer_days),
            (row.last_dismiss_at, self.pause_after_dismiss_days),
        )
        return all(at is None or now >= at + timedelta(days=days) for at, days in waits)


UNLIMITED = Cadence()
"""No limits: the default of callers without settings (demo data, benchmarks of the domain)."""
