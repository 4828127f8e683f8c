"""The k rule for funnels and for tallies of people (consent coverage): which counts may be shown.

Funnels: a funnel's steps are nested sets of people (who reached step i+1 reached step i), shown
per scope (tenant, user type) beside exact `(all)` margins. Three ways a count of 1..k-1 people
could be read off them, each closed here:

* a step reached by fewer than k people: hidden (and every later step with it, since each later
  step is a subset and the drop between them would be readable);
* the drop between two shown consecutive steps of 1..k-1 people ("3 people opened a case and did
  not submit it"): the later step is hidden, and the rest of the funnel with it;
* a margin minus its shown children (`margins.protect`, the reports' rule), step by step.

Hidden steps are returned as None, never 0, so a page can say "hidden" rather than draw a drop.
The rules only ever hide more, so alternating them reaches a fixed point.

Tallies (consent coverage): each count of people is shown when it is 0 or at least k, else None;
when one of the parts is hidden, so is another, so the shown total minus the shown part never
gives the hidden one.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from shared.privacy.disclosure.margins import protect

Key = tuple[str, ...]
"""(tenant, user type, *rest): a funnel cell's scope and what it describes (funnel, mode, week)."""


def _steps_rule(counts: list[int], kept: list[bool], k: int) -> list[bool]:
    shown = list(kept)
    last: int | None = None
    for i, n in enumerate(counts):
        after_hidden = last is not None and not shown[i - 1]
        if after_hidden or not shown[i] or n < k or (last is not None and 0 < last - n < k):
            shown[i] = False
        if shown[i]:
            last = n
        elif last is None:
            last = -1  # the first step hidden: nothing after it is shown
    return shown


def funnel_steps(users: Mapping[Key, list[set[int]]], k: int) -> dict[Key, list[int | None]]:
    """Each funnel cell's step counts as they may be shown: a count, or None where hidden.

    `users[key][i]` is the set of (pseudonymous) people who reached step i of that cell, with
    `(all)` keys for the exact margins; steps are nested (checked: a person at step i+1 is at step i).
    """
    for sets in users.values():
        for earlier, later in itertools.pairwise(sets):
            if not later <= earlier:
                raise ValueError("funnel steps must be nested sets of people")
    shown = {key: [True] * len(sets) for key, sets in users.items()}
    changed = True
    while changed:
        changed = False
        for key, sets in users.items():
            after = _steps_rule([len(s) for s in sets], shown[key], k)
            if after != shown[key]:
                shown[key], changed = after, True
        by_step: dict[Key, set[int]] = {
            (*key, str(i)): sets[i] for key, sets in users.items() for i in range(len(sets)) if shown[key][i]
        }
        kept = protect(by_step, k)
        for key, sets in users.items():
            for i in range(len(sets)):
                if shown[key][i] and (*key, str(i)) not in kept:
                    shown[key][i], changed = False, True
    return {
        key: [len(s) if shown[key][i] else None for i, s in enumerate(sets)] for key, sets in users.items()
    }


def tally(parts: Mapping[str, int], k: int) -> dict[str, int | None]:
    """Disjoint counts of people (e.g. consent decisions by status) and their total (`total`) as
    they may be shown: 0 or at least k, else None; a second part is hidden with a hidden one (the
    smallest shown one, unless it is 0), so the total gives no hidden part away."""
    hidden = {name for name, n in parts.items() if 0 < n < k}
    if len(hidden) == 1:
        rest = sorted((n, name) for name, n in parts.items() if name not in hidden and n > 0)
        if rest:
            hidden.add(rest[0][1])
    total = sum(parts.values())
    shown: dict[str, int | None] = {name: (None if name in hidden else n) for name, n in parts.items()}
    shown["total"] = total if total == 0 or total >= k else None
    return shown
