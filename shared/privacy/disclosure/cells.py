"""The aggregates' k rule: cells of overlapping sets of people, folded into coarser cells.

Used by `shared.reporting.aggregates` for the daily and monthly cells (docs/aggregates.md, "The k rule").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Key = tuple[str, ...]


@dataclass
class Cell:
    """The events, sessions and people (pseudonyms) of one aggregate key, as sets: one person is
    in many cells, so a coarser cell is the union of its parts, never their sum."""

    events: int = 0
    sessions: set[str] = field(default_factory=set)
    users: set[int] = field(default_factory=set)
    anonymous: bool = False

    def add(self, session: str | None, pseudonym: int | None) -> None:
        """Anonymous events (no pseudonym) count as events only: never as a person or a session."""
        self.events += 1
        if pseudonym is None:
            self.anonymous = True
        else:
            self.users.add(pseudonym)
            if session:
                self.sessions.add(session)

    def absorb(self, other: Cell) -> None:
        self.events += other.events
        self.sessions |= other.sessions
        self.users |= other.users
        self.anonymous = self.anonymous or other.anonymous

    @property
    def people(self) -> int:
        """The consented people a cell describes (anonymous events are never counted as people)."""
        return len(self.users)

    def publishable(self, k: int) -> bool:
        """The k rule: a cell shows 0 people (anonymous events only) or at least k."""
        return self.people == 0 or self.people >= k


def fold_cells(
    cells: dict[Key, Cell], k: int, folds: Iterable[tuple[int, str]]
) -> tuple[dict[Key, Cell], int]:
    """Fold every cell under k people into coarser cells; returns (kept cells, suppressed events).

    `folds` is the folding order, (key position, placeholder) pairs: `shared.reporting.aggregates`'
    `DAILY_FOLDS` (event name → `(other)`, user type → `(all)`, app → `(other)`, tenant →
    `(all)`) and `MONTHLY_FOLDS`. Promised: no kept cell shows 1..k-1 people; every event is in
    exactly one kept cell or counted as suppressed; a kept cell's counts are exact (the union of
    the cells folded into it). Not promised: that two kept cells cannot be differenced (no margin
    is published beside them, and their sets overlap).

    Not the same function as `buckets.fold_buckets` (the survey buckets), on purpose: a cell here
    is a *set* of pseudonyms (and sessions) of a multi-part key, folded one key part at a time
    into that part's placeholder (`(other)`, `(all)`), and merged by union, because one person is
    in many cells and must be counted once in the coarser one; what is still under k after the
    last fold is suppressed (its events counted). A survey bucket is a plain *count* of disjoint
    answers (one per person) of a one-part key, and the survey's total is published (and known to
    be >= k), so nothing may be suppressed: the smallest kept bucket joins `(other)` instead.
    Parameterising one function over both would mean either summing overlapping sets or
    suppressing a survey remainder that `total - shown` gives away."""
    kept: dict[Key, Cell] = {}
    pending = cells
    for position, placeholder in folds:
        coarser: dict[Key, Cell] = {}
        for key, cell in pending.items():
            if cell.publishable(k):
                kept.setdefault(key, Cell()).absorb(cell)
            else:
                target = (*key[:position], placeholder, *key[position + 1 :])
                coarser.setdefault(target, Cell()).absorb(cell)
        pending = coarser
    suppressed = 0
    for key, cell in pending.items():
        if cell.publishable(k):
            kept.setdefault(key, Cell()).absorb(cell)
        else:
            suppressed += cell.events
    return kept, suppressed
