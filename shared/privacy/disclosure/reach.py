"""The reach rule: how many people an item reached (delivered, seen, opened, dismissed; for a survey
prompted, answered), as totals and per day.

Why a rule of its own: these are counts of people (one per person and item and measure), shown
to authors without any breakdown by tenant or user type. A count of 1..k-1 people would describe
a handful of colleagues ("two people opened the link on Tuesday"), so it is **hidden**: the
released figure says `hidden` and carries no number, never a 0 standing in for it (a 0 would be
a false count, and "0 or hidden" would tell the two apart). Under the current k rule every count
under k is hidden, 0 too, so a hidden figure says nothing about whether anyone acted.

Per-day figures are disjoint (a person counts on the day of their *first* such action) and sum
to the total, so when the total is shown, the hidden days' sum would be total minus the shown
days: if that sum is 1..k-1, the smallest shown day is hidden too, until the hidden days hold at
least k people (or every day is hidden) — the same complement as the survey buckets'.

Differences between measures (delivered - seen) are not protected: they describe how a broadcast
was received, never one person's attribute, and no breakdown exists to narrow them down. When
issue 23's releases reach this module, `release_reach` returns the figures to publish (noisy), so
callers keep calling it and never compare a count with k themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Released:
    """A count as published: `count` is None exactly when `hidden`."""

    count: int | None
    hidden: bool


def _one(count: int, k: int) -> Released:
    return Released(count, False) if count >= k else Released(None, True)


def release_reach(counts: Mapping[str, int], k: int) -> dict[str, Released]:
    """Each measure's total number of people, released on its own: under k → hidden."""
    return {name: _one(count, k) for name, count in counts.items()}


def release_reach_days(days: Mapping[str, int], k: int) -> dict[str, Released]:
    """One measure's people per day (disjoint, summing to the measure's total): days under k are
    hidden, and if the hidden days then hold 1..k-1 people while the total is shown, the smallest
    shown days join them until they hold at least k (the total minus the shown days must never
    be a count of 1..k-1 people)."""
    total = sum(days.values())
    shown = {day: n for day, n in days.items() if n >= k}
    hidden = total - sum(shown.values())
    while total >= k and 0 < hidden < k and shown:
        smallest = min(shown, key=lambda day: (shown[day], day))
        hidden += shown.pop(smallest)
    return {day: Released(shown[day], False) if day in shown else Released(None, True) for day in days}
