"""The reports' margins: a cell's key starts with (tenant, user type), and either may be the
margin `(all)`. (The suppression rule that lived here — keep no child whose margin minus the
shown children gives 1..k-1 people away — is replaced by differentially private releases,
`releases.py`: every margin is a release of its own, so differencing reveals nothing. `protect`
stays for the funnel cells until they are releases too.)
"""

from __future__ import annotations

Key = tuple[str, ...]

MARGIN = "(all)"
"""The placeholder of an exact margin (all tenants, all user types): a report row's `(all)`."""


def protect(users: dict[Key, set[int]], k: int) -> set[Key]:
    """Which cells may be kept: every kept count of people is at least k.

    Primary: a cell describing fewer than k consented users is suppressed. Secondary: because the
    `(all)` margins are exact totals, a suppressed cell could be recovered by subtraction
    (`(all)` minus the shown children). So along each margin (tenant, user type) of a kept
    parent, while the people not covered by its kept children number 1..k-1 — by set difference
    or by subtracting the shown counts — the smallest kept child is suppressed too.
    """
    kept = {key for key, members in users.items() if len(members) >= k}
    changed = True
    while changed:
        changed = False
        for position in (0, 1):
            groups: dict[Key, list[Key]] = {}
            for key in kept:
                if key[position] != MARGIN:
                    parent = (*key[:position], MARGIN, *key[position + 1 :])
                    groups.setdefault(parent, []).append(key)
            for parent, children in groups.items():
                if parent not in kept:
                    continue
                total = users[parent]
                while children:
                    covered: set[int] = set().union(*(users[c] for c in children))
                    by_sets = len(total - covered)
                    by_counts = len(total) - sum(len(users[c]) for c in children)
                    if not (0 < by_sets < k or 0 < by_counts < k):
                        break
                    smallest = min(children, key=lambda c: (len(users[c]), c))
                    children.remove(smallest)
                    kept.discard(smallest)
                    changed = True
    return kept
