"""The differentially private releases (docs/privacy-model.md): calibration, the budget, that each
differencing attack the k rule fell to yields no exact count any more, and that a period is
released once.

Calibration and attacks run the real OpenDP mechanism many times (fresh noise each time); the
end-to-end tests run the nightly build through Azurite with noise on (`RELEASE_NOISE=true`).
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from shared.privacy.disclosure.releases import (
    ACTIVE_DAY,
    ACTIVE_WEEK,
    BUDGET,
    COHORT_ACTIVE,
    COHORT_SIZE,
    DELTA,
    FEATURES_WEEK,
    Family,
    Releaser,
    monthly_budget,
)
from shared.reporting.build import Domain, _with_stickiness, active_cells
from shared.reporting.cells import ALL
from shared.storage.reports import ActiveCell, UserDay
from tests.test_reports import READER, seed

DOCUMENTED_EPSILON = 9.21
"""docs/privacy-model.md, "The budget": per person and calendar month, at delta 1e-7."""


# ---- calibration ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", [ACTIVE_DAY[0], ACTIVE_WEEK[1], FEATURES_WEEK[1], COHORT_ACTIVE[3]])
def test_the_stated_95_percent_interval_covers_at_least_94_percent(family: Family) -> None:
    """4,000 seeded releases of a known count (large enough never to be hidden or clipped at 0):
    the share within ± moe must be at least 94 % (and not far above 95 %: the margin is the
    smallest whole number that covers 95 %), and the spread must match the stated sigma."""
    releaser = Releaser(5)
    exact = 1_000
    values = releaser.counts(family, {i: exact for i in range(4_000)})
    errors = [v.value - exact for v in values.values() if v.value is not None]
    assert len(errors) == 4_000
    covered = sum(abs(e) <= family.moe for e in errors) / len(errors)
    assert 0.94 <= covered <= 0.975, covered
    sd = math.sqrt(sum(e * e for e in errors) / len(errors))
    assert 0.93 * family.scale <= sd <= 1.07 * family.scale, (sd, family.scale)
    assert abs(sum(errors) / len(errors)) < 4 * family.scale / math.sqrt(len(errors))  # unbiased


def test_an_empty_cell_is_shown_at_most_5_percent_of_the_time() -> None:
    releaser = Releaser(5)
    family = ACTIVE_WEEK[1]
    shown = [v for v in releaser.counts(family, {i: 0 for i in range(4_000)}).values() if not v.hidden]
    assert len(shown) / 4_000 <= 0.06
    assert all(v.value is not None and v.value >= releaser.threshold(family) for v in shown)


def test_an_empty_feature_cell_is_shown_at_most_0_2_percent_of_the_time() -> None:
    """The feature domain is every catalogue feature of every scope (~90,000 keys a week): at the
    5 % of other cells, over half of a tenant's listed features were ones nobody used. 3 sigma
    lists ~0.13 % of them. 40,000 empty cells (the parallel path) give ~54 expected."""
    releaser = Releaser(5)
    family = FEATURES_WEEK[1]
    assert releaser.threshold(family) == pytest.approx(3.0 * family.scale)
    released = releaser.counts(family, {i: 0 for i in range(40_000)})
    shown = [v for v in released.values() if not v.hidden]
    assert len(shown) / 40_000 <= 0.002, len(shown)
    assert all(v.value is not None and v.value >= 3.0 * family.scale for v in shown)


def test_a_large_release_drawn_on_threads_keeps_each_key_and_its_calibration() -> None:
    """From PARALLEL_FROM cells the draw is split over threads: every key keeps its own value
    (distinct counts far apart come back next to themselves) and the noise keeps its sigma."""
    from shared.privacy.disclosure.releases import PARALLEL_FROM

    releaser = Releaser(5)
    family = FEATURES_WEEK[1]
    size = 3 * PARALLEL_FROM
    exact = {f"k{i}": 10_000 + 1_000 * i for i in range(size)}
    noisy = releaser.raw(family, exact)
    assert list(noisy) == list(exact)
    errors = [noisy[key] - value for key, value in exact.items()]
    assert max(abs(e) for e in errors) < 400  # > 20 sigma: never, unless a value moved
    sd = math.sqrt(sum(e * e for e in errors) / size)
    assert 0.97 * family.scale <= sd <= 1.03 * family.scale, sd
    covered = sum(abs(e) <= family.moe for e in errors) / size
    assert 0.94 <= covered <= 0.96, covered


def test_hidden_is_never_zero() -> None:
    released = Releaser(5).counts(ACTIVE_WEEK[0], {i: 2 for i in range(500)})
    assert all(v.value is None or v.value >= 5 for v in released.values())


# ---- the budget -----------------------------------------------------------------------------------


def test_the_monthly_budget_is_the_documented_one_and_within_target() -> None:
    budget = monthly_budget()
    assert budget.delta == DELTA == 1e-7
    assert round(budget.epsilon, 2) == DOCUMENTED_EPSILON
    assert budget.epsilon <= 10
    # the accountant's composition equals the sum of each release's own privacy map (zCDP adds up)
    by_hand = sum(family.rho() * family.per_month for family in BUDGET)
    assert budget.rho == pytest.approx(by_hand, rel=1e-9)
    assert budget.releases == sum(family.per_month for family in BUDGET)


def test_every_release_the_build_draws_is_in_the_budget() -> None:
    from shared.reporting import build

    used = {
        f.name
        for group in (*build._ACTIVE.values(), *build._FEATURES.values(), (COHORT_SIZE, COHORT_ACTIVE))
        for families in group
        for f in families.values()
    }
    assert used <= {f.name for f in BUDGET}


def test_the_documented_figure_is_in_the_docs() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "privacy-model.md").read_text()
    assert f"ε = {DOCUMENTED_EPSILON}" in text and "δ = 10⁻⁷" in text


# ---- differencing attacks yield no exact count ------------------------------------------------------


RUNS = 300


def _day(tenant: str, users: range) -> list[UserDay]:
    return [UserDay(tenant, "basic_user", 2**40 + u, 1, 3, {("workspace", "app.launch"): 3}) for u in users]


def test_stickiness_no_longer_gives_user_days_away() -> None:
    """Was: a week's stickiness x 7 x its active users = user-days, minus the shown days = the
    suppressed Saturday (3 people). Now stickiness is post-processing of released day values and is
    not shown while any day is hidden; no table holds user-days."""
    releaser = Releaser(5)
    domain = Domain(("t1",))
    per_day = [range(30), range(30), range(30), range(30), range(30), range(3), range(30)]
    recovered = 0
    for _ in range(RUNS):
        days = []
        for d, users in enumerate(per_day):
            cells, _ = active_cells("day", f"2026-10-{5 + d:02d}", _day("t1", users), releaser, domain)
            days += cells
        week_rows = [row for users in per_day for row in _day("t1", users)]
        week, _ = active_cells("week", "2026-W41", week_rows, releaser, domain)
        sticky = {(c.tenant, c.user_type): c for c in _with_stickiness(week, days, 7)}[("t1", ALL)]
        day_cells = [c for c in days if (c.tenant, c.user_type) == ("t1", ALL)]
        saturday = day_cells[5]
        if sticky.stickiness is not None and sticky.active_users is not None:
            assert not saturday.hidden  # shown only when every day is
            user_days = round(sticky.stickiness * 7 * sticky.active_users)
            others = sum(c.active_users or 0 for i, c in enumerate(day_cells) if i != 5)
            recovered += user_days - others == 3
    assert recovered / RUNS < 0.1
    assert "user_days" not in ActiveCell.__dataclass_fields__


def test_a_tenant_minus_its_shown_types_is_not_the_hidden_type() -> None:
    """Was: rptactived 7 for a tenant vs aggdaily basic_user 5 → 2 IT admins. Now the tenant row
    and the type rows are independent releases: their difference misses the exact hidden count."""
    releaser = Releaser(5)
    rows = [UserDay("t1", "basic_user", 10 + u, 1, 1, {}) for u in range(5)]
    rows += [UserDay("t1", "it_admin", 100 + u, 1, 1, {}) for u in range(2)]
    exact = 0
    for _ in range(RUNS):
        cells = {
            (c.tenant, c.user_type): c for c in active_cells("day", "d", rows, releaser, Domain(("t1",)))[0]
        }
        total, basic = cells[("t1", ALL)], cells[("t1", "basic_user")]
        if total.active_users is not None and basic.active_users is not None:
            exact += total.active_users - basic.active_users == 2
        assert cells[("t1", "it_admin")].hidden or cells[("t1", "it_admin")].active_users != 2
    assert exact / RUNS < 0.1


def test_new_cohort_against_active_users_is_not_the_returning_count() -> None:
    """Was: 7 active - a new cohort of 5 = 2 returning. Now both are independent releases."""
    releaser = Releaser(5)
    hits = 0
    for _ in range(RUNS):
        active = releaser.counts(ACTIVE_WEEK[1], {"t": 7})["t"]
        cohort = releaser.counts(COHORT_SIZE[1], {"t": 5})["t"]
        if active.value is not None and cohort.value is not None:
            hits += active.value - cohort.value == 2
    assert hits / RUNS < 0.1


# ---- end to end, noise on ---------------------------------------------------------------------------


def test_reports_carry_hidden_rows_and_margins_and_are_released_once(make_client) -> None:
    client = make_client(RELEASE_NOISE="true")
    seed(client)
    path = "/api/reports/active-users?grain=week&from=2026-10-05&to=2026-10-25&tenant=*"
    first = client.get(path, principal=READER).json()
    assert first["privacy"]["epsilon"] == DOCUMENTED_EPSILON and first["privacy"]["delta"] == 1e-7
    rows = first["rows"]
    shown = [r for r in rows if not r["hidden"]]
    hidden = [r for r in rows if r["hidden"]]
    assert shown and hidden
    assert all(r["active_users"] is None and r["events"] is None and r["moe"] == {} for r in hidden)
    assert all(r["moe"]["active_users"] > 0 for r in shown)
    total = next(
        r for r in rows if r["period"] == "2026-W41" and r["tenant"] == ALL and r["user_type"] == ALL
    )
    assert total["hidden"] or abs(total["active_users"] - 16) <= 5 * 10  # 5 sigma
    # asking again, and rebuilding, reveal nothing new: the stored release is returned
    assert client.get(path, principal=READER).json() == first
    client.clock.now += timedelta(days=1)
    client.services.aggregation.run(date(2026, 10, 5), date(2026, 10, 25))
    assert client.get(path, principal=READER).json()["rows"] == rows
    # BI readers see the same: hidden rows carry no count at all, shown ones their margin
    stored = client.stored()
    weekly = [r for name, table in stored.items() if name.endswith("rptactivew") for r in table]
    assert weekly and all("user_days" not in r for r in weekly)
    assert all(("active_users" in r) != r["hidden"] for r in weekly)
    assert all("active_users_moe" in r for r in weekly if not r["hidden"])


def test_the_exact_mode_is_refused_in_azure() -> None:
    from shared.kernel.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="RELEASE_NOISE"):
        Settings.from_env(
            {
                "WEBSITE_SITE_NAME": "func-prod",
                "TABLES_ENDPOINT": "https://x.table.core.windows.net",
                "KEY_VAULT_URL": "https://kv.vault.azure.net",
                "POLICY_VERSION": "2026-04",
                "STAFF_TENANT_IDS": "ce9a1000-57af-4000-8000-000000000001",
                "RELEASE_NOISE": "false",
            }
        )
