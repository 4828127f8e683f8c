"""The surveys' k rule: buckets of disjoint answers (one per person), whose total is published.

Used by `shared.notifications.results.tally` and `Results._publish` (docs/notifications.md, "Results
and the k rule" and "Snapshots"). Every count here is a number of people: one answer per person
and survey, so a bucket's people are its answers and `(other)` is a plain sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from datetime import timedelta
from typing import Literal

LabelMode = Literal["both", "tenant", "user_type"]

SNAPSHOT_HOURS = 6
"""Survey results are a snapshot: renewed at most this often, and only once k answers were given
or replaced since the last one (`snapshot_renewable`)."""

_FOLDED = "(other)"
"""`refine`'s block of the coarse groups that are not shown on their own."""


def survey_publishable(answers: int, k: int) -> bool:
    """A survey with fewer than k answers shows nothing at all (no count, figure or comment)."""
    return answers >= k


def fold_buckets(counts: dict[str, int], k: int) -> tuple[dict[str, int], int]:
    """Cells of at least k kept; the rest summed as `(other)`. If that sum is 1..k-1, the smallest
    kept cell joins it until it reaches k, so no shown number (nor total - shown) is under k.

    Why this is not `cells.fold_cells`: the two cannot be one
    function without one of them lying about its numbers.

    * Here the buckets are **disjoint and additive**: one answer per person and survey, so a
      bucket's people are its answers and `(other)` is a plain sum. The aggregates' cells are
      **sets of pseudonyms that overlap** (one person uses several features, days, apps): their
      fold merges sets and counts distinct people of the union, which a sum would overcount.
    * Here the buckets have one key part and the total is published and known to be >= k (a
      survey under k shows nothing), so nothing may be suppressed (total - shown would give it
      away): the remainder is made big enough by moving the smallest kept bucket into it. The
      aggregates fold a multi-part key one part at a time (event name → `(other)`, user type →
      `(all)`, app → `(other)`, tenant → `(all)`) and suppress a last remainder under k,
      counting its events, instead of moving kept cells.

    A parameterised single function would have to either sum overlapping sets or suppress a
    remainder that the published total reveals, so each fold keeps its own rule.
    """
    shown = {key: n for key, n in counts.items() if n >= k}
    other = sum(n for n in counts.values() if n < k)
    while 0 < other < k and shown:
        smallest = min(shown, key=lambda key: (shown[key], key))
        other += shown.pop(smallest)
    return shown, other


def refine(
    counts: dict[str, int], shown: dict[str, int], blocks: dict[str, str], coarse: set[str], k: int
) -> dict[str, int]:
    """The shown fine buckets (`fold_buckets` of `counts`), made consistent with the shown coarse
    groups.

    `blocks` maps every fine bucket (an NPS score) to its coarse group (promoters, ...); `coarse`
    is the set of groups shown on their own, all other groups are summed in the coarse `(other)`.
    A reader can subtract a group's shown fine buckets from the group: that remainder (the folded
    answers inside one shown group, or inside the coarse `(other)`) must be 0 or >= k too. Where it
    is not, the smallest shown fine bucket of that block joins the fine `(other)` until it is. This
    ends: a block with all its buckets folded has the whole block as remainder, which is >= k
    (a shown group) or part of a coarse `(other)` that is >= k."""
    kept = dict(shown)
    while True:
        block_of = {key: blocks[key] if blocks[key] in coarse else _FOLDED for key in counts}
        remainder: dict[str, int] = {}
        for key, n in counts.items():
            if key not in kept:
                remainder[block_of[key]] = remainder.get(block_of[key], 0) + n
        bad = sorted(b for b, n in remainder.items() if 0 < n < k)
        if not bad:
            return kept
        inside = [key for key in kept if block_of[key] == bad[0]]
        if not inside:  # cannot happen (see above); publish no bucket rather than a small remainder
            return {}
        kept.pop(min(inside, key=lambda key: (kept[key], key)))


def figure_publishable(atoms: Mapping[str, int], k: int) -> bool:
    """May an NPS or mean be published for answers with these counts per atom (per NPS group; for
    a mean, per rating)? Only if every atom among them has 0 or >= k people. NPS x answers is
    promoters - detractors and mean x answers is the sum of the ratings: beside folded groups or
    buckets either would let a reader solve for a folded count (6 promoters, `(other)` 5 and NPS
    27.3 → 3 detractors, 2 passives). Where the rule holds, the figure adds nothing the shown
    counts do not."""
    return all(n >= k for n in atoms.values())


def breakdown_figures_publishable(cells: Iterable[Mapping[str, int]], k: int) -> bool:
    """May the cells of a breakdown (per user type, per tenant; `(other)` too), given each as its
    counts per atom, show their NPS or mean? Only when *every* cell passes `figure_publishable`:
    then every (cell, atom) count is 0 or >= k, and no difference of published figures can
    isolate fewer than k people."""
    return all(figure_publishable(atoms, k) for atoms in cells)


def comment_labels(
    pairs: Mapping[tuple[str, str], int], types: Set[str], tenants: Set[str], k: int
) -> LabelMode:
    """How a survey's comments are labelled, from its answers per (tenant, user type) pair and the
    user types and tenants shown as cells of their own. Both tenant and user type only when
    *every* pair with answers has >= k of them and every tenant and type is shown: a pair is a
    cell of its own (the only admin of tenant A). Otherwise one label for every comment of the
    survey, the tenant (or the user type if no tenant is shown): choosing per comment would give
    the pair away by which label is missing."""
    if all(n >= k and tenant in tenants and user_type in types for (tenant, user_type), n in pairs.items()):
        return "both"
    return "tenant" if tenants else "user_type"


def snapshot_renewable(changed: int, age: timedelta, k: int) -> bool:
    """May a survey's published snapshot be replaced by a fresh one? Only when it is at least
    SNAPSHOT_HOURS old *and* at least k answers were given or replaced since (`changed`): two
    consecutive snapshots then differ by at least k people's answers, so no difference between
    them is one person's answer (docs/notifications.md, "Snapshots")."""
    return not (changed < k or age < timedelta(hours=SNAPSHOT_HOURS))
