"""Differential privacy benchmark: utility of the releases and the cost of drawing them
(results: bench/results/privacy.json; docs/benchmarks.md, docs/privacy-model.md).

* **Utility**: for groups of 5, 20, 100 and 1,000 people, many releases of weekly and monthly
  active users (tenant level and the overall/user-type level), feature users and cohort retention
  through the real mechanism (`Releaser.counts` with the families the nightly build uses):
  median and 95th percentile of the absolute and relative error of the *shown* values, and how
  often the value is hidden. Targets: weekly active users of the overall row at 1,000+
  people within 2 % (p95); a 100-person tenant within 10 % (p95).
* **Cost of the draws alone**: the computation of a week close (active and feature cells) on a
  synthetic week of TENANTS tenants, with noise against the same code in the test kit's exact
  mode (identical keys and clipping, no draws), alternating, median of rounds, in one run. For
  information: the target (a night's build with releases <= 1.2x without) is measured where the
  build's storage is, by bench/reports.py (`monday_noise_vs_exact`).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.common import report
from shared.privacy.disclosure.releases import (
    ACTIVE_MONTH,
    ACTIVE_WEEK,
    COHORT_ACTIVE,
    FEATURES_WEEK,
    Family,
    Releaser,
    monthly_budget,
)
from shared.reporting.build import Domain, active_cells, feature_cells, level
from shared.services import FEATURE_DOMAIN
from shared.storage.reports import UserDay

SIZES = (5, 20, 100, 1_000)
DRAWS = 2_000
TENANTS = 200
ROUNDS = 3
K = 5


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def utility(family: Family, size: int, draws: int) -> dict[str, float]:
    """Errors of `draws` releases of a cell of exactly `size` people."""
    released = Releaser(K).counts(family, {i: size for i in range(draws)})
    shown = [r.value for r in released.values() if r.value is not None]
    errors = [abs(v - size) for v in shown]
    return {
        "sigma": family.scale,
        "moe95": family.moe,
        "hidden_share": round(1 - len(shown) / draws, 4),
        "abs_p50": percentile(errors, 0.5),
        "abs_p95": percentile(errors, 0.95),
        "rel_p50": round(percentile(errors, 0.5) / size, 4),
        "rel_p95": round(percentile(errors, 0.95) / size, 4),
    }


def synthetic_week(rng: random.Random, tenants: int) -> tuple[list[UserDay], Domain]:
    """One week of user-day rows: tenant sizes cycle through 5/20/100/1,000 people (mean 281),
    each person active on a weekday with probability 0.6, using 1-4 catalogue features."""
    rows: list[UserDay] = []
    keys = [f"k{i:016x}" for i in range(1, tenants + 1)]
    features = [f for f in FEATURE_DOMAIN if f[0] in ("workspace", "cases", "docs", "catalog")]
    pseudonym = 2**40
    for i, key in enumerate(keys):
        for _ in range(SIZES[i % len(SIZES)]):
            pseudonym += 1
            user_type = rng.choice(("basic_user", "advanced_user", "it_admin"))
            used = rng.sample(features, rng.randint(1, 4))
            for _day in range(5):
                if rng.random() < 0.6:
                    rows.append(
                        UserDay(key, user_type, pseudonym, 1, 8, {f: rng.randint(1, 4) for f in used})
                    )
    return rows, Domain(tuple(keys), FEATURE_DOMAIN)


def week_close(rows: list[UserDay], domain: Domain, releaser: Releaser) -> float:
    started = time.perf_counter()
    active_cells("week", "2026-W41", rows, releaser, domain)
    feature_cells("week", "2026-W41", rows, releaser, domain)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=TENANTS)
    parser.add_argument("--draws", type=int, default=DRAWS)
    args = parser.parse_args(argv)

    families = {
        "weekly active users, tenant": ACTIVE_WEEK[1],
        "weekly active users, (all) and per user type": ACTIVE_WEEK[3],
        "weekly active users, tenant x user type": ACTIVE_WEEK[0],
        "monthly active users, tenant": ACTIVE_MONTH[1],
        "feature users (week)": FEATURES_WEEK[1],
        "cohort retention (active in a later week)": COHORT_ACTIVE[1],
    }
    errors: dict[str, dict[str, Any]] = {
        name: {str(size): utility(family, size, args.draws) for size in SIZES}
        for name, family in families.items()
    }

    rng = random.Random(23)
    rows, domain = synthetic_week(rng, args.tenants)
    noisy, exact = [], []
    for _ in range(ROUNDS):
        noisy.append(week_close(rows, domain, Releaser(K)))
        exact.append(week_close(rows, domain, Releaser(K, noise=False)))
    cost = {
        "tenants": args.tenants,
        "user_day_rows": len(rows),
        "feature_keys": sum(level(s) in FEATURES_WEEK for s in domain.scopes()) * len(domain.features),
        "week_close_with_noise_s": round(statistics.median(noisy), 3),
        "week_close_exact_mode_s": round(statistics.median(exact), 3),
        "ratio": round(statistics.median(noisy) / statistics.median(exact), 2),
    }
    budget = monthly_budget()
    overall = errors["weekly active users, (all) and per user type"]["1000"]
    tenant = errors["weekly active users, tenant"]["100"]
    targets = {
        "(all) weekly active users at 1,000 within 2 % (p95)": overall["rel_p95"] <= 0.02,
        "100-person tenant weekly active users within 10 % (p95)": tenant["rel_p95"] <= 0.10,
        "epsilon <= 10 at delta 1e-7 per person and month": budget.epsilon <= 10,
    }
    payload = {
        "utility": errors,
        "cost": cost,
        "budget": {"epsilon": round(budget.epsilon, 3), "delta": budget.delta, "rho": round(budget.rho, 4)},
    }
    return report("privacy.json", targets, payload)


if __name__ == "__main__":
    sys.exit(main())
