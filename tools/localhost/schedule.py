"""Timer functions fired on their schedules, as the Functions host fires them.

Schedules are NCRONTAB with six fields ({second} {minute} {hour} {day} {month} {day-of-week},
UTC), parsed by croniter: numbers, `*`, ranges, lists, steps and names such as `Mon` or `Jan`.
As in NCrontab, a restricted day and day-of-week must both match.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

LOG = logging.getLogger("cetegra.localhost")


def next_fire(expression: str, after: datetime) -> datetime:
    """Next time the NCRONTAB `expression` fires strictly after `after` (ValueError if invalid)."""
    if len(expression.split()) != 6:
        raise ValueError(f"NCRONTAB needs 6 fields: {expression!r}")
    try:
        schedule = croniter(expression, after, second_at_beginning=True, day_or=False)
        fire: datetime = schedule.get_next(datetime)
    except (ValueError, KeyError) as exc:  # croniter's errors subclass ValueError
        raise ValueError(f"NCRONTAB {expression!r}: {exc}") from exc
    return fire


def run_timers(timers: list[Any], stop: threading.Event) -> None:
    """Fire each registered timer function on its schedule until `stop` is set."""
    from azure.functions.timer import TimerRequest

    now = datetime.now(UTC)
    due = {t.get_function_name(): next_fire(t.get_trigger().schedule, now) for t in timers}
    by_name = {t.get_function_name(): t for t in timers}
    while due and not stop.is_set():
        name, when = min(due.items(), key=lambda item: item[1])
        if stop.wait(max(0.0, (when - datetime.now(UTC)).total_seconds())):
            return
        try:
            by_name[name].get_user_function()(TimerRequest(past_due=False))
        except Exception as exc:  # a failed run is logged and retried at the next schedule
            LOG.error(json.dumps({"event": "timer.failed", "timer": name, "error": type(exc).__name__}))
        due[name] = next_fire(by_name[name].get_trigger().schedule, datetime.now(UTC))
