"""The k rule that survey comments keep: which user types and tenants label a comment.

Survey results are differentially private releases (`surveys`); comments go to authors only and
are outside them (docs/privacy-model.md, "What is not covered"). Their labels keep the k rule:
`shared.notifications.results` folds the answers per user type and per tenant (`fold_buckets`) and
asks `comment_labels` how to label. Every count here is a number of people: one answer per person
and survey, so a bucket's people are its answers and `(other)` is a plain sum.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Literal

LabelMode = Literal["both", "tenant", "user_type"]


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
