"""Injected time: tests move it explicitly instead of sleeping or patching `datetime`."""

from __future__ import annotations

from datetime import datetime, timedelta


class Clock:
    """A callable `() -> datetime` for `shared.services.build(clock=...)`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
