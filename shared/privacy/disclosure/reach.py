"""The reach releases: how many people an item reached (delivered, seen, opened, dismissed; for a
survey delivered, prompted, answered, dismissed), per closed UTC day and in total, as differentially
private releases of the `REACH` family (docs/privacy-model.md).

* **Unit and bound.** A person counts on the day of their *first* such action per item and
  measure, so in at most `REACH.cells` (4) cells of an item's release, each by 1; and in at most
  `REACH_ITEMS_PER_MONTH` items per calendar month: their first ones by first action that month
  (for an item delivered that month, its delivery), later ones are not counted (`first_items`).
* **Key domain.** Every day of the item's window from its start up to yesterday x every measure of
  its kind, zeros included: which cells exist depends on the item, never on who acted. Today is
  never released (in progress).
* **Once.** Each (item, day) is drawn once (`draw_days`, through `Releaser.raw`) and stored by
  the caller with its noisy values; every later read returns the stored release.
* **Shown or hidden.** A day's figure is shown when its noisy count clears the releaser's
  threshold (k and 1.645 sigma); otherwise it is hidden (null, never 0). A total is the sum of the
  noisy values of every released day, hidden ones too (post-processing), with sigma * sqrt(days):
  shown when it clears max(k, 1.645 sigma sqrt(days)), margin 1.96 sigma sqrt(days) (`margin`). A hidden
  day's noisy value is kept in storage for the sums and never returned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from shared.privacy.disclosure.releases import REACH, REACH_ITEMS_PER_MONTH, Z95, Z_HIDE, Releaser


@dataclass(frozen=True)
class Released:
    """A count as published: `count` is None exactly when `hidden`; `moe` its 95 % margin."""

    count: int | None
    hidden: bool
    moe: float = 0.0


def sigma_of(releaser: Releaser) -> float:
    """The noise of one released reach cell (0 in the test kit's exact mode)."""
    return REACH.scale if releaser.noise else 0.0


def draw_days[K](releaser: Releaser, exact: Mapping[K, int]) -> dict[K, int]:
    """One release of `REACH` over the given cells (an item's new days x its measures): the noisy
    count of each, unclipped (may be negative; stored, shown only through `figure` and `total`)."""
    return releaser.raw(REACH, exact)


def margin(sd: float) -> float:
    """The 95 % margin of error of a sum of integer Gaussian draws with standard deviation `sd`:
    the smallest whole m with P(|noise| <= m) >= 95 % (as `Family.moe` states it for one draw:
    49 for a day of reach); 0 in exact mode."""
    return float(math.ceil(Z95 * sd - 0.5)) if sd > 0 else 0.0


def _shown(noisy: int, sd: float, k: int) -> Released:
    moe = margin(sd)
    threshold = max(float(k), Z_HIDE * sd)
    return Released(noisy, False, moe) if noisy >= threshold else Released(None, True, moe)


def figure(noisy: int, sigma: float, k: int) -> Released:
    """One released day of one measure, as published."""
    return _shown(noisy, sigma, k)


def total(noisy: Iterable[int], sigma: float, k: int) -> Released:
    """The sum of released days (hidden ones included): post-processing, sigma * sqrt(days).
    No released day: hidden."""
    values = list(noisy)
    if not values:
        return Released(None, True, 0.0)
    return _shown(sum(values), sigma * math.sqrt(len(values)), k)


def first_items(
    actions: Iterable[tuple[str, datetime]], limit: int = REACH_ITEMS_PER_MONTH
) -> set[tuple[str, str]]:
    """One person's (item, "YYYY-MM") pairs that count: per calendar month, the first `limit`
    items by the person's first action on them that month (ties by item id). Adding later actions
    never removes a pair already counted, so a released day stays right."""
    first: dict[tuple[str, str], datetime] = {}
    for item, at in actions:
        key = (item, at.strftime("%Y-%m"))
        if key not in first or at < first[key]:
            first[key] = at
    by_month: dict[str, list[tuple[datetime, str]]] = {}
    for (item, month), at in first.items():
        by_month.setdefault(month, []).append((at, item))
    return {(item, month) for month, ranked in by_month.items() for _, item in sorted(ranked)[:limit]}
