"""Funnels: the catalogue, in-order counting within a session and within 7 days, the
nightly build over the raw days, the k rule on step counts (hidden is null, never 0), the route."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.privacy.disclosure.funnels import release_funnel_steps
from shared.privacy.disclosure.releases import Releaser
from shared.reporting.funnels import CATALOGUE, Hit, catalogue, parse_catalogue, reached
from testing.principal import STAFF_TENANT_ID, principal_header

ROOT = Path(__file__).resolve().parents[1]
READER = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000aaaa",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Reader",),
)
TENANTS = {"tA": "11111111-aaaa-4000-8000-000000000001", "tB": "22222222-bbbb-4000-8000-000000000002"}
START = date(2026, 10, 5)  # Monday, 2026-W41
T0 = datetime(2026, 10, 5, 9, tzinfo=UTC)


def member(tenant: str, u: int) -> str:
    return principal_header(user_id=f"00000000-0000-4000-8000-{u:012d}", tenant_id=TENANTS[tenant])


# ---- the catalogue -------------------------------------------------------------------------------


def test_every_step_names_a_catalogued_event_or_page():
    events = json.loads((ROOT / "shared/ingestion/event_catalogue.json").read_text())["events"]
    pages = json.loads((ROOT / "shared/ingestion/page_catalogue.json").read_text())["pages"]
    funnels = catalogue().funnels
    assert funnels
    for funnel in funnels:
        assert len(funnel.steps) >= 2
        for step in funnel.steps:
            assert step.event is None or step.event in events, step
            assert step.page is None or step.page in pages, step


def test_a_malformed_catalogue_fails_loudly():
    with pytest.raises(ValueError):
        parse_catalogue(json.dumps({"funnels": {"x": {"name": "x", "steps": [{"label": "a", "page": "/"}]}}}))
    with pytest.raises(ValueError):
        parse_catalogue(
            json.dumps({"funnels": {"x": {"name": "x", "steps": [{"label": "a"}, {"label": "b"}]}}})
        )


def test_the_fingerprint_follows_the_definitions():
    text = CATALOGUE.read_text()
    changed = json.loads(text)
    next(iter(changed["funnels"].values()))["steps"][0]["label"] = "renamed"
    assert parse_catalogue(text).fingerprint != parse_catalogue(json.dumps(changed)).fingerprint
    changed = json.loads(text)
    changed["description"] = "other words"
    assert parse_catalogue(text).fingerprint == parse_catalogue(json.dumps(changed)).fingerprint


# ---- counting ------------------------------------------------------------------------------------


def hit(minutes: float, step: int, session: str = "s1") -> Hit:
    return Hit(T0 + timedelta(minutes=minutes), session, 0, step)


WEEK = (T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=7))


def test_steps_count_only_in_order():
    assert reached([hit(0, 0), hit(1, 1), hit(2, 2)], 0, 3, *WEEK) == {"session": 3, "7d": 3}
    assert reached([hit(0, 0), hit(1, 2), hit(2, 1)], 0, 3, *WEEK) == {"session": 2, "7d": 2}
    assert reached([hit(0, 1), hit(1, 2)], 0, 3, *WEEK) == {}  # never reached the first step


def test_session_and_seven_days_differ():
    hits = [hit(0, 0, "s1"), hit(60 * 24 * 2, 1, "s2"), hit(60 * 24 * 3, 2, "s2")]
    assert reached(hits, 0, 3, *WEEK) == {"session": 1, "7d": 3}
    late = [hit(0, 0), hit(60 * 24 * 8, 1)]  # after 7 days
    assert reached(late, 0, 3, *WEEK) == {"session": 1, "7d": 1}


def test_entry_must_be_in_the_week():
    before = [Hit(WEEK[0] - timedelta(hours=1), "s", 0, 0), Hit(WEEK[0] + timedelta(hours=1), "s", 0, 1)]
    assert reached(before, 0, 2, *WEEK) == {}


# ---- the disclosure rule -------------------------------------------------------------------------

K = 5
sets = st.lists(st.integers(0, 40), min_size=0, max_size=40).map(set)


@st.composite
def nested(draw, steps: int = 3) -> list[set[int]]:
    first = draw(sets)
    out = [first]
    for _ in range(steps - 1):
        out.append({x for x in out[-1] if draw(st.booleans())})
    return out


@st.composite
def scopes(draw) -> dict[tuple[str, ...], list[set[int]]]:
    """Tenants a and b, user types x and y, and exact margins: one person in one scope."""
    people: dict[tuple[str, str], list[set[int]]] = {}
    offset = 0
    for tenant in ("a", "b"):
        for kind in ("x", "y"):
            funnel = draw(nested())
            people[(tenant, kind)] = [{offset + p for p in s} for s in funnel]
            offset += 100
    users: dict[tuple[str, ...], list[set[int]]] = {}
    for (tenant, kind), funnel in people.items():
        for t in (tenant, "(all)"):
            for u in (kind, "(all)"):
                cell = users.setdefault((t, u, "f", "7d"), [set(), set(), set()])
                for i, s in enumerate(funnel):
                    cell[i] |= s
    return users


@settings(max_examples=200, deadline=None)
@given(scopes(), st.booleans())
def test_released_steps_never_rise_and_hide_everything_after_a_hidden_one(users, noise):
    """Exact mode: a shown step is the exact count and at least k; with noise: shown steps never
    rise and carry a margin. In both, a step after a hidden one is hidden (null, never 0)."""
    counts = {key: [len(s) for s in steps] for key, steps in users.items()}
    released = release_funnel_steps(counts, Releaser(K, noise=noise))
    assert set(released) == set(counts)
    for key, (steps, moe) in released.items():
        for i, n in enumerate(steps):
            if n is None:
                assert all(s is None for s in steps[i:]), "a step after a hidden one is hidden"
                break
            assert n >= K and (i == 0 or n <= steps[i - 1])
            if not noise:
                assert n == counts[key][i]
        assert (moe > 0) == noise


def test_the_catalogue_fits_the_budget():
    from shared.privacy.disclosure.funnels import check_funnel_bound

    check_funnel_bound([len(f.steps) for f in catalogue().funnels], 2)
    with pytest.raises(ValueError, match="budget"):
        check_funnel_bound([9, 9], 2)


# ---- the build and the route -------------------------------------------------------------------


def seed_funnel(client, users: int, submitters: int, tenants=("tA", "tB")) -> None:
    """`users` people per tenant open the case list and the form on Monday of W41; the first
    `submitters` submit in the same session, one more submits two days later (another session)."""
    client.clock.now = T0
    for tenant in tenants:
        for u in range(users):
            principal = member(tenant, u)
            client.put(
                "/api/consent", {"status": "granted", "policy_version": "2026-04"}, principal=principal
            )
            session = f"00000000-0000-4000-8000-{u:012d}"
            events = [
                {
                    "event_id": f"00000001-{u:04d}-4000-8000-{ord(tenant[1]):012d}",
                    "name": "nav.page_view",
                    "session_id": session,
                    "page": "/cases",
                    "app": "workspace",
                },
                {
                    "event_id": f"00000002-{u:04d}-4000-8000-{ord(tenant[1]):012d}",
                    "name": "nav.page_view",
                    "session_id": session,
                    "page": "/cases/new",
                    "app": "workspace",
                },
            ]
            if u < submitters:
                events.append(
                    {
                        "event_id": f"00000003-{u:04d}-4000-8000-{ord(tenant[1]):012d}",
                        "name": "case.submitted",
                        "session_id": session,
                        "app": "workspace",
                    }
                )
            assert client.post("/api/events", {"events": events}, principal=principal).status == 202
    client.clock.now = T0 + timedelta(days=2)
    for tenant in tenants:
        u = submitters
        event = {
            "event_id": f"00000004-{u:04d}-4000-8000-{ord(tenant[1]):012d}",
            "name": "case.submitted",
            "session_id": f"00000000-0000-4000-9000-{u:012d}",
            "app": "workspace",
        }
        assert client.post("/api/events", {"events": [event]}, principal=member(tenant, u)).status == 202


def test_the_nightly_build_counts_steps_and_the_route_shows_them(client):
    seed_funnel(client, users=12, submitters=6)
    client.clock.now = datetime(2026, 10, 19, 3, tzinfo=UTC)  # W42 is not over: W41 waits
    assert client.services.funnels.run().built_weeks == []
    client.clock.now = datetime(2026, 10, 20, 3, tzinfo=UTC)  # 2026-10-18 (W41 + 7 days) final
    result = client.services.funnels.run()
    assert result.built_weeks == ["2026-W41"]
    assert client.services.funnels.run().built_weeks == []  # idempotent: nothing pending
    body = client.get("/api/reports/funnels?from=2026-10-05&to=2026-10-11", principal=READER).json()
    assert body["funnel"] == "case_submission" and body["k"] == 5
    by = {(r["mode"], r["step"]): r for r in body["rows"] if r["tenant"] == "(all)"}
    assert by[("session", 1)]["users"] == 24 and by[("session", 2)]["users"] == 24
    assert by[("session", 3)]["users"] == 12 and by[("session", 3)]["conversion"] == 0.5
    assert by[("7d", 3)]["users"] == 14
    tenant_rows = client.get(
        "/api/reports/funnels?from=2026-10-05&to=2026-10-11&tenant=*&mode=7d", principal=READER
    ).json()["rows"]
    per_tenant = [r for r in tenant_rows if r["tenant"] != "(all)" and r["step"] == 3]
    assert len(per_tenant) == 2 and {r["users"] for r in per_tenant} == {7}
    assert {r["mode"] for r in tenant_rows} == {"7d"}
    csv = client.get(
        "/api/reports/funnels?from=2026-10-05&to=2026-10-11", principal=READER, headers={"Accept": "text/csv"}
    )
    assert csv.status == 200 and csv.body.decode().splitlines()[0].startswith(
        "week,tenant,user_type,mode,step"
    )


def test_a_small_step_is_hidden_as_null_never_zero(client):
    """Released steps (docs/privacy-model.md): a step under the threshold is null, and so is every
    step after it; a small *drop* between shown steps is no longer hidden (the steps are
    independent noisy releases: their difference isolates nobody)."""
    seed_funnel(client, users=8, submitters=3, tenants=("tA",))  # 8 → 8 → 3 (7d: 4)
    client.clock.now = datetime(2026, 10, 20, 3, tzinfo=UTC)
    client.services.funnels.run()
    rows = client.get("/api/reports/funnels?from=2026-10-05&to=2026-10-11", principal=READER).json()["rows"]
    last = [r for r in rows if r["step"] == 3]
    assert last and all(r["users"] is None and r["hidden"] and r["conversion"] is None for r in last)
    first = [r for r in rows if r["step"] == 1]
    assert all(r["users"] == 8 and not r["hidden"] for r in first)


def test_every_key_of_the_domain_is_released_and_a_week_once(make_client):
    """With noise: every tenant x user type x funnel x mode has a row (zeros included), shown steps
    never rise, every shown step carries its margin of error."""
    client = make_client(RELEASE_NOISE="true")
    seed_funnel(client, users=30, submitters=20, tenants=("tA", "tB"))
    client.clock.now = datetime(2026, 10, 20, 3, tzinfo=UTC)
    client.services.funnels.run()
    rows = client.get(
        "/api/reports/funnels?from=2026-10-05&to=2026-10-11&tenant=*&user_type=it_admin", principal=READER
    ).json()["rows"]
    assert {r["tenant"] for r in rows} >= set(
        client.services.tenants.directory_keys()
    )  # no data: still a row
    every = client.get("/api/reports/funnels?from=2026-10-05&to=2026-10-11", principal=READER).json()["rows"]
    for mode in ("session", "7d"):
        steps = [r for r in every if r["mode"] == mode]
        shown = [r["users"] for r in steps if not r["hidden"]]
        assert shown == sorted(shown, reverse=True)
        assert all(r["moe"] and r["moe"] > 0 for r in steps if not r["hidden"])


def test_funnel_queries_are_checked(client):
    for query, field in (
        ("funnel=Bad-Id", "funnel"),
        ("mode=month", "mode"),
        ("from=2026-10-10&to=2026-10-01", "from"),
        ("from=2020-01-01&to=2026-10-01", "from"),
        ("tenant=xyz", "tenant"),
    ):
        response = client.get(f"/api/reports/funnels?{query}", principal=READER)
        assert response.status == 400, query
        assert response.json()["error"]["field"] == field, query
    assert client.get("/api/reports/funnels?funnel=nope", principal=READER).status == 404
    assert client.get("/api/reports/funnels", principal=None).status == 401


def test_a_changed_catalogue_rebuilds_kept_weeks_and_drops_stale_rows(client):
    from shared.reporting.funnels import Catalogue, FunnelBuilder

    seed_funnel(client, users=12, submitters=6)
    client.clock.now = datetime(2026, 10, 20, 3, tzinfo=UTC)
    assert client.services.funnels.run().built_weeks == ["2026-W41"]
    svc = client.services
    only_cases = Catalogue(catalogue().funnels[:1], "other-fingerprint")
    rebuilt = FunnelBuilder(
        svc.tables.events, svc.tables.funnels, svc.tenants, svc.settings, svc.clock, only_cases
    )
    assert rebuilt.run().built_weeks == ["2026-W41"]
    kept = {cell.funnel for cell in svc.tables.funnels.all_cells("2026-W41", "2026-W41")}
    assert kept == {"case_submission"}  # the removed funnel's rows are gone, no table scan needed
    assert rebuilt.run().built_weeks == []
