"""Calendar periods: the days, ISO weeks and months that data is kept, built and published by.

Pure date arithmetic that every capability shares: which days can still take events, the 24-month
horizon ("a maximum of 24 months in raw form", cookie policy §4), the hour-only time of anonymous
rows, and the keys of report periods (`2026-11-23`, `2026-W48`, `2026-11`).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta


def coarse_time(moment: datetime) -> datetime:
    """Anonymous rows keep the hour only: an exact time (with the tenant) can point at the one
    person who was active then. Truncation keeps the UTC day, so a re-sent event keeps its row."""
    return moment.replace(minute=0, second=0, microsecond=0)


def writable_days(now: datetime, max_age: timedelta, max_ahead: timedelta) -> list[date]:
    """The days an event received `now` may belong to (by its client time, `check_batch`'s window):
    no other day's raw events can change any more."""
    first, last = (now - max_age).date(), (now + max_ahead).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def months_before(day: date, months: int) -> date:
    """The same day-of-month `months` earlier, clamped to that month's end (Mar 31 - 1 → Feb 28)."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def oldest_kept_day(today: date, months: int) -> date:
    return months_before(today, months) + timedelta(days=1)


def day_key(day: date) -> str:
    return day.isoformat()


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year:04d}-W{week:02d}"


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def week_start(key: str) -> date:
    return date.fromisocalendar(int(key[:4]), int(key[6:]), 1)


def month_start(key: str) -> date:
    return date(int(key[:4]), int(key[5:7]), 1)


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def period_key(grain: str, day: date) -> str:
    return {"day": day_key, "week": week_key, "month": month_key}[grain](day)


def period_days(grain: str, key: str) -> list[date]:
    if grain == "day":
        return [date.fromisoformat(key)]
    if grain == "week":
        start = week_start(key)
        return [start + timedelta(days=i) for i in range(7)]
    start = month_start(key)
    return [start + timedelta(days=i) for i in range((next_month(start) - start).days)]
