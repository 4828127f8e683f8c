"""Funnels: which step counts may be shown, as differentially private releases.

Every step count of every key of a fixed domain (tenant x user type x funnel x mode, with the
`(all)` margins) is drawn once per week through `releases.Releaser` with the `FUNNELS` families
(one person counts in at most `FUNNEL_STEP_CELLS` step counts per level; `check_funnel_bound`
holds the catalogue to it). A step is shown when its noisy count clears the threshold and every
earlier step is shown; a shown step is never more than the one before it. Both are
post-processing of the release, so a small drop between two shown steps needs no hiding: the
steps are independent noisy counts, and their difference isolates nobody (docs/privacy-model.md).
Hidden steps are None, never 0, so a page says "hidden" rather than drawing a drop.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.privacy.disclosure.margins import MARGIN
from shared.privacy.disclosure.releases import FUNNEL_STEP_CELLS, FUNNELS, Released, Releaser

Key = tuple[str, ...]
"""(tenant, user type, *rest): a funnel cell's scope and what it describes (funnel, mode, week)."""


def release_funnel_steps(
    counts: Mapping[Key, list[int]], releaser: Releaser
) -> dict[Key, tuple[list[int | None], float]]:
    """Each funnel cell's step counts as released: (steps, 95 % margin of error), a step None
    where hidden. `counts` holds every key of the domain (zeros included), keyed (tenant, user
    type, funnel, mode) with `(all)` margins; `counts[key][i]` = people who reached step i.

    The caller bounds each person to one cell per level and at most `FUNNEL_STEP_CELLS` steps in
    all (`check_funnel_bound`)."""
    by_level: dict[int, dict[tuple[str, ...], int]] = {}
    for key, steps in counts.items():
        position = (2 if key[0] == MARGIN else 0) + (1 if key[1] == MARGIN else 0)
        for i, n in enumerate(steps):
            by_level.setdefault(position, {})[(*key, str(i))] = n
    released: dict[tuple[str, ...], Released] = {}
    for position, cells in by_level.items():
        released |= releaser.counts(FUNNELS[position], cells)
    out: dict[Key, tuple[list[int | None], float]] = {}
    for key, steps in counts.items():
        shown: list[int | None] = []
        previous: int | None = None
        moe = 0.0
        for i in range(len(steps)):
            value = released[(*key, str(i))]
            moe = value.moe
            if value.value is None or (i > 0 and previous is None):
                shown.append(None)
                previous = None
                continue
            previous = value.value if previous is None else min(previous, value.value)
            shown.append(previous)
        out[key] = (shown, moe)
    return out


def check_funnel_bound(steps_per_funnel: list[int], modes: int) -> None:
    """The catalogue must let one person count in at most `FUNNEL_STEP_CELLS` step counts per
    level (every step of every funnel, in every mode): the budget assumes it."""
    total = sum(steps_per_funnel) * modes
    if total > FUNNEL_STEP_CELLS:
        raise ValueError(
            f"the funnel catalogue has {total} step counts per person, more than the budget's "
            f"{FUNNEL_STEP_CELLS} (shared/privacy/disclosure/releases.py)"
        )
