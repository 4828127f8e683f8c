"""The survey releases: a survey's results (distribution, NPS groups, NPS, mean, per user type, per
tenant, the series' NPS trend) as differentially private releases of the `SURVEY_ANSWERS`
families (docs/privacy-model.md, docs/notifications.md "Results").

* **Scheduled snapshots.** Snapshot i (1..`MAX_SNAPSHOTS`) may be taken at the first read at or
  after t_i = starts_at + i x (ends_at - starts_at) / MAX_SNAPSHOTS, never within SNAPSHOT_HOURS
  of the previous one (`due`, `renewable_at`). The timing depends on the window and the clock,
  never on the answers, and a survey has at most `MAX_SNAPSHOTS` releases.
* **A fresh release of all answers so far.** Each snapshot releases the histograms of every
  person's current answer (one per person) over a key domain fixed before the answers are read:
  (all) x answer bucket, user type (the policy's plus `(none)`) x bucket, tenant (the tenant
  directory, plus tenants of answers not in it) x bucket (`draw`). One person is in one cell of
  each level: one release per level (`SURVEY_ANSWERS`).
* **Post-processing.** Everything shown is computed from the stored noisy histograms (`bucket`,
  `total`, `nps`, `mean`): a bucket is shown when its noisy count clears the releaser's threshold,
  otherwise hidden (None, never 0); a sum of n buckets (hidden ones included) is shown when it
  clears max(k, 1.645 sigma sqrt(n)); NPS and mean come from the noisy histogram clamped at 0.
  Every figure has a 95 % margin of error. The same stored release gives the same figures on
  every read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.privacy.disclosure.releases import SURVEY_ANSWERS, SURVEY_SNAPSHOTS, Z95, Z_HIDE, Releaser

MAX_SNAPSHOTS = SURVEY_SNAPSHOTS
"""A survey's results are released at most this many times (at scheduled times, see `due`)."""
SNAPSHOT_HOURS = 6
"""Two snapshots of one survey are at least this far apart."""
NO_TYPE = "(none)"
"""The user-type cell of answers whose user type is not one of the policy's."""
ALL = "(all)"
LEVELS = ("all", "type", "tenant")
"""The released levels, in the order of `SURVEY_ANSWERS`."""
NPS_SCORES = tuple(str(score) for score in range(11))
RATINGS = tuple(str(rating) for rating in range(1, 6))

_OFFSET = 1_000_000
"""As in `reach`: exact counts are shifted by this data-independent constant before the release
and back after, so that the stored value is the unclipped noisy count (sums need it)."""

Histograms = dict[str, dict[str, dict[str, int]]]
"""level -> cell (`(all)`, a user type, a tenant key) -> answer bucket -> noisy count."""


# ---- when ----------------------------------------------------------------------------------------


def schedule(starts_at: datetime, ends_at: datetime) -> list[datetime]:
    """t_1 .. t_MAX_SNAPSHOTS: the earliest times of the snapshots (the last one at the end)."""
    step = (ends_at - starts_at) / MAX_SNAPSHOTS
    return [starts_at + step * i for i in range(1, MAX_SNAPSHOTS + 1)]


def due(starts_at: datetime, ends_at: datetime, now: datetime, taken: int, last: datetime | None) -> int:
    """The snapshot to take at `now` (its number, 1..MAX_SNAPSHOTS), or 0 for none: the latest
    scheduled one that has come, if it is later than the `taken` one and SNAPSHOT_HOURS have passed
    since the `last` was taken. Depends on times only, never on the answers."""
    come = sum(1 for t in schedule(starts_at, ends_at) if t <= now)
    if come <= taken:
        return 0
    if last is not None and now - last < timedelta(hours=SNAPSHOT_HOURS):
        return 0
    return come


def renewable_at(
    starts_at: datetime, ends_at: datetime, taken: int, last: datetime | None
) -> datetime | None:
    """When the next snapshot may be taken (the first results, if `taken` is 0); None after the
    last one."""
    if taken >= MAX_SNAPSHOTS:
        return None
    at = schedule(starts_at, ends_at)[taken]
    if last is not None:
        at = max(at, last + timedelta(hours=SNAPSHOT_HOURS))
    return at


# ---- the release ---------------------------------------------------------------------------------


def buckets(kind: str, options: Sequence[str] | None) -> tuple[str, ...]:
    """The answer buckets of a question: NPS 0..10, rating 1..5, or the choice's options."""
    if kind == "nps":
        return NPS_SCORES
    if kind == "rating":
        return RATINGS
    return tuple(options or ())


@dataclass(frozen=True)
class Answer:
    """One person's current answer, as the release counts it."""

    bucket: str
    user_type: str
    tenant: str


def sigma_of(releaser: Releaser) -> float:
    """The noise of one released survey cell (0 in the test kit's exact mode)."""
    return SURVEY_ANSWERS[0].scale if releaser.noise else 0.0


def draw(
    releaser: Releaser,
    domain: Sequence[str],
    answers: Iterable[Answer],
    user_types: Sequence[str],
    tenants: Iterable[str],
) -> Histograms:
    """One snapshot: a release per level over (all | user types + `(none)` | tenants) x `domain`,
    zeros included. Answers in no bucket of the domain are not counted."""
    rows = [a for a in answers if a.bucket in domain]
    types = [*user_types, NO_TYPE]
    cells = {
        "all": [ALL],
        "type": types,
        "tenant": sorted({*tenants, *(a.tenant for a in rows)}),
    }
    out: Histograms = {}
    for level, family in zip(LEVELS, SURVEY_ANSWERS, strict=True):
        exact = {(cell, b): 0 for cell in cells[level] for b in domain}
        for a in rows:
            cell = ALL if level == "all" else a.tenant if level == "tenant" else a.user_type
            if level == "type" and cell not in user_types:
                cell = NO_TYPE
            exact[(cell, a.bucket)] += 1
        released = releaser.counts(family, {key: _OFFSET + n for key, n in exact.items()})
        level_out: dict[str, dict[str, int]] = {cell: {} for cell in cells[level]}
        for (cell, b), value in released.items():
            assert value.value is not None  # the offset is far above any threshold
            level_out[cell][b] = value.value - _OFFSET
        out[level] = level_out
    return out


# ---- what is shown (post-processing) -------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """A released figure: None when hidden (never 0 standing in for it), and its 95 % margin."""

    value: int | None
    moe: float


def margin(sd: float) -> float:
    """The 95 % margin of a sum of integer Gaussian draws with standard deviation `sd`: the
    smallest whole m with P(|noise| <= m) >= 95 %; 0 in exact mode."""
    return float(math.ceil(Z95 * sd - 0.5)) if sd > 0 else 0.0


def bucket(releaser: Releaser, noisy: int) -> Figure:
    """One released bucket: shown when it clears the releaser's threshold."""
    family = SURVEY_ANSWERS[0]
    shown = noisy >= releaser.threshold(family)
    return Figure(noisy if shown else None, margin(sigma_of(releaser)))


def total(releaser: Releaser, noisy: Iterable[int]) -> Figure:
    """The sum of n released buckets, hidden ones included (sigma sqrt(n)): shown when it clears
    max(k, 1.645 sigma sqrt(n)). No bucket: hidden."""
    values = list(noisy)
    if not values:
        return Figure(None, 0.0)
    sd = sigma_of(releaser) * math.sqrt(len(values))
    value = sum(values)
    return Figure(value if value >= max(float(releaser.k), Z_HIDE * sd) else None, margin(sd))


def _ceil(value: float, digits: int) -> float:
    scale: float = 10.0**digits
    return float(math.ceil(value * scale - 1e-9)) / scale


def nps(releaser: Releaser, histogram: Mapping[str, int]) -> tuple[float | None, float | None]:
    """NPS (% promoters - % detractors) of a noisy NPS histogram clamped at 0, and its 95 % margin
    (linearised: each bucket's noise moves it by 100 (c - nps/100) / n)."""
    counts = {b: max(0, histogram.get(b, 0)) for b in NPS_SCORES}
    n = sum(counts.values())
    if n == 0:
        return None, None
    weight = {b: 1 if int(b) >= 9 else -1 if int(b) <= 6 else 0 for b in NPS_SCORES}
    value = 100.0 * sum(weight[b] * c for b, c in counts.items()) / n
    spread = math.sqrt(sum((weight[b] - value / 100.0) ** 2 for b in NPS_SCORES))
    moe = _ceil(Z95 * sigma_of(releaser) * 100.0 * spread / n, 1)
    return round(value, 1), moe


def mean(releaser: Releaser, histogram: Mapping[str, int]) -> tuple[float | None, float | None]:
    """The mean rating of a noisy rating histogram clamped at 0, and its 95 % margin."""
    counts = {b: max(0, histogram.get(b, 0)) for b in RATINGS}
    n = sum(counts.values())
    if n == 0:
        return None, None
    value = sum(int(b) * c for b, c in counts.items()) / n
    spread = math.sqrt(sum((int(b) - value) ** 2 for b in RATINGS))
    moe = _ceil(Z95 * sigma_of(releaser) * spread / n, 2)
    return round(value, 2), moe
