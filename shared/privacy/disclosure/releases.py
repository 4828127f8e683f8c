"""Differentially private releases: the one way a count about people leaves the system.

Why: the privacy texts promise aggregated statistics "with no link to individual users" (Cookie
Policy, 4) and that usage data "cannot be linked back to you" (Privacy at a Glance). A threshold
rule (no count under k) does not keep that promise against a reader who combines releases: an
audit recovered suppressed counts of 1-4 people by differencing stickiness, BI tables, survey
snapshots and cohorts. Differential privacy does keep it, for every combination of
releases at once: whatever a reader computes from all of a month's releases changes its odds
about any one person by at most e^epsilon (plus delta).

How (docs/privacy-model.md has the plain-words version):

* **Unit**: one person (a pseudonym). Every family below states how much one person can add to
  one release (`bound` per cell, `cells` touched); callers clip each person's contribution to
  that before calling (`clip`), so the sensitivity is a fact, not a hope.
* **Mechanism**: OpenDP's discrete Gaussian (`make_gaussian` on integer vectors, L2 metric; no
  floating-point noise, so no floating-point attack), one draw per cell, over a key domain that
  does not depend on the data (the tenant directory x the policy's user types x the catalogues), so
  which cells exist reveals nothing. A cell is **shown** only when its noisy count of people
  clears `threshold` (at least k and 1.645 sigma, so an empty cell shows with at most 5 %
  probability; 3 sigma, 0.13 %, for the large feature domain); otherwise it is **hidden**
  (never 0). Hiding is post-processing: free.
* **Accounting**: `BUDGET` lists every family with how many releases a person can be in per
  calendar month. `monthly_budget()` composes one OpenDP measurement per release (zero-
  concentrated DP, rho adds up) and converts the total to (epsilon, delta) with OpenDP's
  accountant; `tests/test_privacy_budget.py` holds it to the figure docs/privacy-model.md states.
* **Once**: a release is stored by its caller and read back, never drawn again per query; a
  period is released once it has closed (the nightly build), and a rebuild of a released period
  keeps the stored release (`shared.reporting.build`).

OpenDP marks every constructor of 0.16 `contrib` ("not yet vetted" in its own terms); there is no
vetted alternative in the library, so this module enables `contrib` and nothing else (not
`floating-point`, not `honest-but-curious`), and uses only components with a proof document:
`make_gaussian` (integer vectors), `make_composition`, `make_zCDP_to_approxDP`, `make_fix_delta`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import opendp.prelude as dp

dp.enable_features("contrib")

DELTA = 1e-7
"""The delta of the monthly (epsilon, delta) guarantee: far below 1 / the number of people."""
Z95 = 1.959964
"""Half-width of a 95 % interval of a Gaussian, in standard deviations."""
Z_HIDE = 1.645
"""A cell is hidden unless its noisy count exceeds this many sigmas (and k): an empty cell
shows with at most 5 % probability."""
Z_HIDE_FEATURES = 3.0
"""The same for feature cells, whose domain is every catalogue (app, feature) of a scope (442
today): at 1.645 sigma one in twenty features nobody used would be listed, ~22 phantom rows per
tenant and period; at 3 sigma 0.13 %, ~0.6 per scope."""
PARALLEL_FROM = 8192
"""A release of at least this many cells is drawn in chunks on a thread pool: OpenDP's sampler
runs in native code without the GIL (a week's feature keys take ~2 s on one core). Each cell
gets one independent draw of the same measurement either way, so the chunks' output has the
distribution of one call."""


@dataclass(frozen=True)
class Family:
    """One kind of release: what a person can add to it, how often per month, and its noise.

    `per_month` releases of this family can hold one person's data in one calendar month; in each
    the person touches at most `cells` cells by at most `bound` each (after clipping), so the
    release's L2 sensitivity is `bound * sqrt(cells)`. `scale` is the Gaussian's sigma."""

    name: str
    per_month: int
    bound: int
    cells: int
    scale: float
    people: bool = True
    """A count of people (decides hidden) rather than of events or sessions."""
    hide_z: float = Z_HIDE
    """Shown only above this many sigmas (and k): `Z_HIDE`, or `Z_HIDE_FEATURES` for a large
    sparse domain."""

    @property
    def sensitivity(self) -> float:
        return self.bound * math.sqrt(self.cells)

    @property
    def moe(self) -> float:
        """The 95 % margin of error of one released value: the noise is an integer, so the
        smallest whole m with P(|noise| <= m) >= 95 % (m + 1/2 >= 1.96 sigma)."""
        return float(math.ceil(Z95 * self.scale - 0.5))

    def measurement(self) -> Any:
        """The OpenDP measurement that draws this family's noise (integer vectors, L2 metric)."""
        return _gaussian(self.scale)

    def rho(self) -> float:
        """zCDP cost of one release for one person: OpenDP's privacy map at the sensitivity."""
        return float(self.measurement().map(self.sensitivity))


@cache
def _gaussian(scale: float) -> Any:
    return dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=float), scale=scale)


LEVELS = ("tenant_type", "tenant", "type", "all")
"""The four report levels: (tenant, user type), (tenant, all), (all, user type), (all, all)."""


def _levels(
    name: str,
    per_month: int,
    bound: int,
    cells: int,
    scales: Sequence[float],
    people: bool = True,
    levels: Sequence[str] = LEVELS,
    hide_z: float = Z_HIDE,
) -> dict[int, Family]:
    """A release at several report levels is one release per level: one person is in exactly
    one cell of each level. Keyed by the level's position in `LEVELS`."""
    return {
        LEVELS.index(level): Family(f"{name}.{level}", per_month, bound, cells, scale, people, hide_z)
        for level, scale in zip(levels, scales, strict=True)
    }


# ---- the budget -----------------------------------------------------------------------------------

DAY_SESSIONS, DAY_EVENTS = 2, 10
"""Per person and day: session-days and events counted at most (clipped before noise)."""
PERIOD_SESSIONS, PERIOD_EVENTS = 7, 50
"""Per person and week or month: session-days and events counted at most."""
PERIOD_FEATURES, FEATURE_EVENTS = {"week": 5, "month": 10}, 10
"""Per person and period: features counted at most (the person's most used), events per feature."""
WEEKS_PER_MONTH = 5
"""A week belongs to the month of its Monday: at most five per month."""
SURVEY_ANSWERS_PER_MONTH = 2
"""Cadence lets a person answer at most this many surveys a month (docs/notifications.md)."""
REACH_ITEMS_PER_MONTH = 20
"""Notifications whose reach counts one person in per month, at most (later ones are not counted)."""

ACTIVE_DAY = _levels("active.day.users", 31, 1, 1, (25.0, 25.0, 25.0, 25.0))
ACTIVE_DAY_SESSIONS = _levels("active.day.sessions", 31, DAY_SESSIONS, 1, (80.0,) * 4, people=False)
ACTIVE_DAY_EVENTS = _levels("active.day.events", 31, DAY_EVENTS, 1, (400.0,) * 4, people=False)
ACTIVE_WEEK = _levels("active.week.users", WEEKS_PER_MONTH, 1, 1, (10.0, 4.5, 8.0, 8.0))
ACTIVE_WEEK_SESSIONS = _levels(
    "active.week.sessions", WEEKS_PER_MONTH, PERIOD_SESSIONS, 1, (120.0,) * 4, people=False
)
ACTIVE_WEEK_EVENTS = _levels(
    "active.week.events", WEEKS_PER_MONTH, PERIOD_EVENTS, 1, (800.0,) * 4, people=False
)
ACTIVE_MONTH = _levels("active.month.users", 1, 1, 1, (10.0, 4.5, 8.0, 8.0))
ACTIVE_MONTH_SESSIONS = _levels("active.month.sessions", 1, PERIOD_SESSIONS, 1, (120.0,) * 4, people=False)
ACTIVE_MONTH_EVENTS = _levels("active.month.events", 1, PERIOD_EVENTS, 1, (800.0,) * 4, people=False)
FEATURE_LEVELS = LEVELS[1:]
"""Features are released per tenant, per user type and overall, not per tenant x user type: that
level would be 4 in 5 of the feature keys (the noise draws) for a question the tenant and user
type rows answer."""


def _features(grain: str, per_month: int) -> tuple[dict[int, Family], dict[int, Family]]:
    """Feature users (hidden below `Z_HIDE_FEATURES`) and their events, of a week or a month."""
    name, features = f"features.{grain}", PERIOD_FEATURES[grain]
    return (
        _levels(
            f"{name}.users",
            per_month,
            1,
            features,
            (17.5,) * 3,
            levels=FEATURE_LEVELS,
            hide_z=Z_HIDE_FEATURES,
        ),
        _levels(f"{name}.events", per_month, FEATURE_EVENTS, features, (500.0,) * 3, False, FEATURE_LEVELS),
    )


FEATURES_WEEK, FEATURES_WEEK_EVENTS = _features("week", WEEKS_PER_MONTH)
FEATURES_MONTH, FEATURES_MONTH_EVENTS = _features("month", 1)
COHORT_SIZE = _levels("cohort.size", 1, 1, 1, (10.0,) * 4)
"""A person is new in one week only, ever."""
COHORT_ACTIVE = _levels("cohort.active", WEEKS_PER_MONTH, 1, 1, (12.0,) * 4)
"""Each closing week: of each of the 12 cohorts before it, who is active — a person is in one."""
SURVEY_SNAPSHOTS = 4
"""A survey's results are released at most this many times (`surveys.MAX_SNAPSHOTS`)."""
SURVEY_ANSWERS = (
    Family("survey.answers.all", SURVEY_ANSWERS_PER_MONTH * SURVEY_SNAPSHOTS, 1, 1, 12.0),
    Family("survey.answers.type", SURVEY_ANSWERS_PER_MONTH * SURVEY_SNAPSHOTS, 1, 1, 12.0),
    Family("survey.answers.tenant", SURVEY_ANSWERS_PER_MONTH * SURVEY_SNAPSHOTS, 1, 1, 12.0),
)
"""Each snapshot of a survey releases every answer so far again: a person's current answer is in
one (answer bucket) cell per level, in each of the survey's at most `SURVEY_SNAPSHOTS` snapshots,
of each of the at most `SURVEY_ANSWERS_PER_MONTH` surveys a month they answer. Sigma 12 keeps the
family's monthly rho where sigma 6 with one release per answer had it (8 / 2 x 12^2 = 2 / 2 x 6^2)."""
REACH = Family("notification.reach", REACH_ITEMS_PER_MONTH, 1, 4, 25.0)
"""Per notification: delivered, seen, dismissed, opened — each once per person."""
COVERAGE = _levels("consent.coverage", 1, 1, 1, (8.0,) * 4)
"""Monthly: people asked / said yes / said no, one bucket per person and level."""
FUNNEL_STEP_CELLS = 16
"""Per person and week: step counts (steps x within-session/within-7-days) counted at most."""
FUNNELS = _levels("funnel.steps", WEEKS_PER_MONTH, 1, FUNNEL_STEP_CELLS, (30.0,) * 4)
"""Weekly: a person counts in at most `FUNNEL_STEP_CELLS` step counts of the funnel catalogue."""

BUDGET: tuple[Family, ...] = (
    *ACTIVE_DAY.values(),
    *ACTIVE_DAY_SESSIONS.values(),
    *ACTIVE_DAY_EVENTS.values(),
    *ACTIVE_WEEK.values(),
    *ACTIVE_WEEK_SESSIONS.values(),
    *ACTIVE_WEEK_EVENTS.values(),
    *ACTIVE_MONTH.values(),
    *ACTIVE_MONTH_SESSIONS.values(),
    *ACTIVE_MONTH_EVENTS.values(),
    *FEATURES_WEEK.values(),
    *FEATURES_WEEK_EVENTS.values(),
    *FEATURES_MONTH.values(),
    *FEATURES_MONTH_EVENTS.values(),
    *COHORT_SIZE.values(),
    *COHORT_ACTIVE.values(),
    *SURVEY_ANSWERS,
    REACH,
    *COVERAGE.values(),
    *FUNNELS.values(),
)
"""Every release one person's data can be in during one calendar month."""

FAMILIES: dict[str, Family] = {family.name: family for family in BUDGET}


@dataclass(frozen=True)
class Budget:
    rho: float
    epsilon: float
    delta: float
    releases: int


@cache
def monthly_budget() -> Budget:
    """The per-person, per-month guarantee of all releases together, by OpenDP's accountant:
    each release is a measurement normalised to sensitivity 1 (scale / sensitivity), their
    composition sums rho (zCDP), and `make_zCDP_to_approxDP` + `make_fix_delta` give epsilon at
    `DELTA`."""
    parts = [
        _gaussian(family.scale / family.sensitivity) for family in BUDGET for _ in range(family.per_month)
    ]
    composed = dp.c.make_composition(parts)
    rho = float(composed.map(1.0))  # type: ignore[no-untyped-call]
    approximate = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(composed), DELTA)
    epsilon, delta = approximate.map(1.0)  # type: ignore[no-untyped-call]
    return Budget(rho=rho, epsilon=float(epsilon), delta=float(delta), releases=len(parts))


# ---- releasing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Released:
    """One published value: the noisy count (None when hidden) and its 95 % margin of error."""

    value: int | None
    moe: float

    @property
    def hidden(self) -> bool:
        return self.value is None


class Releaser:
    """Draws releases. `noise=False` is the test kit's exact mode (refused in Azure by the
    settings): the same thresholds and shapes, without noise, so that structural tests can
    compare with a recomputation."""

    def __init__(self, k: int, *, noise: bool = True) -> None:
        self.k = k
        self.noise = noise

    def threshold(self, family: Family) -> float:
        """The smallest noisy count of people that is shown."""
        return max(float(self.k), family.hide_z * family.scale) if self.noise else float(self.k)

    def counts[K](self, family: Family, exact: Mapping[K, int]) -> dict[K, Released]:
        """Release every cell of `exact` (keys from a data-independent domain, zeros included):
        one Gaussian draw each. Counts of people under the threshold come back hidden; other
        counts (events, sessions) are never hidden here (their row's people decide)."""
        moe = family.moe if self.noise else 0.0
        threshold = self.threshold(family)
        out: dict[K, Released] = {}
        for key, value in self.raw(family, exact).items():
            shown = value >= threshold if family.people else True
            out[key] = Released(max(0, value) if shown else None, moe)
        return out

    def raw[K](self, family: Family, exact: Mapping[K, int]) -> dict[K, int]:
        """The draws themselves (not clamped, nothing hidden), for a caller that stores them and
        publishes sums of them (post-processing); publish only through `shown`."""
        keys = list(exact)
        values = [max(0, int(exact[key])) for key in keys]
        noisy = _draw(family.measurement(), values) if self.noise and values else values
        return {key: int(value) for key, value in zip(keys, noisy, strict=True)}

    def shown(self, family: Family, noisy: int, *, parts: int = 1) -> Released:
        """A stored draw, or a sum of `parts` independent draws of `family`, as published: hidden
        under the threshold for that much noise, else clamped at 0 with its 95 % margin."""
        sigma = family.scale * math.sqrt(parts) if self.noise else 0.0
        threshold = max(float(self.k), family.hide_z * sigma)
        moe = float(math.ceil(Z95 * sigma - 0.5)) if self.noise else 0.0
        if family.people and noisy < threshold:
            return Released(None, moe)
        return Released(max(0, noisy), moe)


WORKERS = min(4, os.cpu_count() or 1)


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="release")


def _draw(measurement: Any, values: list[int]) -> list[int]:
    """`measurement(values)`; from `PARALLEL_FROM` cells in `WORKERS` chunks on threads."""
    if len(values) < PARALLEL_FROM or WORKERS < 2:
        return list(measurement(values))
    size = -(-len(values) // WORKERS)
    chunks = [values[i : i + size] for i in range(0, len(values), size)]
    return [value for chunk in _pool().map(measurement, chunks) for value in chunk]


def clip(value: int, bound: int) -> int:
    """A person's contribution to one cell, bounded before noise (the family's `bound`)."""
    return min(value, bound)


def top_features[F](features: Mapping[F, int], limit: int) -> list[F]:
    """A person's at most `limit` features of a period: the most used (ties by key), so their
    contribution to the feature release has a known bound."""
    return [key for key, _ in sorted(features.items(), key=lambda kv: (-kv[1], str(kv[0])))[:limit]]
