"""Report routes and the tenant directory: roles, parameters, CSV, k rule, no ids, 503s,
stable tenant keys across a salt rotation, and the raw-class report data's retention/erasure."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest

from shared.ingestion.ingest import keep
from shared.kernel.errors import StorageUnavailable
from shared.privacy.identity import Principal
from shared.reporting.cells import ALL
from testing.factories import stored_event
from testing.principal import STAFF_TENANT_ID, principal_header

READER = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000aaaa",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Reader",),
)
OPS = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000bbbb",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Operator",),
)
TENANT_IDS = {"tA": "11111111-aaaa-4000-8000-000000000001", "tB": "22222222-bbbb-4000-8000-000000000002"}
START = date(2026, 10, 5)  # Monday, ISO week 2026-W41
ROUTES = (
    "/api/reports/tenants",
    "/api/reports/active-users",
    "/api/reports/features",
    "/api/reports/retention",
)


def member(tenant: str, u: int) -> str:
    """User `u` of `tenant` as seed() signs them in: odd users are advanced users."""
    return principal_header(
        user_id=f"00000000-0000-4000-8000-{u:012d}",
        tenant_id=TENANT_IDS[tenant],
        roles=("Cetegra.AdvancedUser",) if u % 2 else (),
    )


def seed(client, *, weeks: int = 3, users: int = 8, tenants=("tA", "tB")) -> dict[str, str]:
    """Consented events of `users` users per tenant every weekday for `weeks` weeks, ingested
    through the real route (so tenant keys are linked as in production), then aggregated."""
    client.clock.now = datetime(2026, 10, 5, 9, tzinfo=UTC)
    keys = {}
    for tenant in tenants:
        for u in range(users):
            principal = member(tenant, u)
            assert (
                client.put(
                    "/api/consent", {"status": "granted", "policy_version": "2026-04"}, principal=principal
                ).status
                == 200
            )
    for offset in range(weeks * 7):
        day = START + timedelta(days=offset)
        client.clock.now = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        if day.weekday() >= 5:
            continue
        for tenant in tenants:
            for u in range(users):
                principal = member(tenant, u)
                events = [
                    {
                        "event_id": f"{offset:08d}-{u:04d}-4000-8000-{ord(tenant[1]):012d}",
                        "name": "nav.page_view",
                        "session_id": f"{offset:08d}-0000-4000-8000-{u:012d}",
                        "page": "/cases/12345",
                        "app": "workspace",
                    }
                ]
                if offset >= 7:  # a feature launched in week 2
                    events.append(
                        {
                            "event_id": f"{offset:08d}-{u:04d}-4000-9000-{ord(tenant[1]):012d}",
                            "name": "case.submitted",
                            "session_id": f"{offset:08d}-0000-4000-8000-{u:012d}",
                            "app": "workspace",
                        }
                    )
                response = client.post("/api/events", {"events": events}, principal=principal)
                assert response.status == 202, response.body
    client.clock.now = datetime.combine(START + timedelta(weeks=weeks + 1), datetime.min.time(), UTC)
    client.services.aggregation.run()
    for tenant in tenants:
        keys[tenant] = client.services.tenants.key_of(TENANT_IDS[tenant])
    return keys


@pytest.fixture
def seeded(client):
    return client, seed(client)


def test_routes_need_the_reader_or_ops_role(client):
    for path in (
        *ROUTES,
        "/api/reports/onboarding?tenant=k0000000000000000",
        "/api/reports/launch?feature=x&date=2026-10-12",
    ):
        assert client.get(path, principal=None).status == 401
        denied = client.get(path)  # an ordinary signed-in user
        assert denied.status == 403 and denied.json()["error"]["code"] == "forbidden"
        assert client.get(path, principal=READER).status in (200, 404)
        assert client.get(path, principal=OPS).status in (200, 404)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("grain=year", "grain"),
        ("from=yesterday", "from"),
        ("from=2026-10-10&to=2026-10-01", "from"),
        ("from=2020-01-01&to=2026-10-01", "from"),
        ("tenant=contoso", "tenant"),
        ("user_type=admin", "user_type"),
        ("colour=red", "colour"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client, query, field):
    response = client.get(f"/api/reports/active-users?{query}", principal=READER)
    assert response.status == 400
    assert response.json()["error"]["field"] == field


def test_feature_and_launch_parameters(client):
    assert client.get("/api/reports/features?grain=day", principal=READER).json()["error"]["field"] == "grain"
    assert client.get("/api/reports/features?app=Bad App", principal=READER).json()["error"]["field"] == "app"
    assert (
        client.get("/api/reports/launch?date=2026-10-12", principal=READER).json()["error"]["field"]
        == "feature"
    )
    assert (
        client.get("/api/reports/launch?feature=x&date=2026-10-12&weeks=99", principal=READER).json()[
            "error"
        ]["field"]
        == "weeks"
    )
    assert client.get("/api/reports/onboarding", principal=READER).json()["error"]["field"] == "tenant"
    missing = client.get("/api/reports/onboarding?tenant=k0000000000000000", principal=READER)
    assert missing.status == 404


def test_reports_on_seeded_data(seeded):
    client, keys = seeded
    body = client.get(
        "/api/reports/active-users?grain=week&from=2026-10-05&to=2026-10-25&tenant=*", principal=READER
    ).json()
    assert body["k"] == 5 and body["grain"] == "week" and body["from"] == "2026-10-05"
    rows = {(r["period"], r["tenant"], r["user_type"]): r for r in body["rows"]}
    # 2 tenants x 8 users, 5 weekdays each; exact distinct counts, (all) not a sum
    assert rows[("2026-W41", ALL, ALL)]["active_users"] == 16
    assert rows[("2026-W41", keys["tA"], ALL)]["active_users"] == 8
    assert rows[("2026-W41", ALL, ALL)]["events"] == 80
    assert rows[("2026-W41", ALL, ALL)]["sessions"] == 80
    assert all(r["hidden"] or r["active_users"] >= 5 for r in body["rows"])
    # 4 advanced + 4 basic users per tenant: under k, hidden — and said so, never 0 (differencing
    # against the (tenant, all) row is harmless: both are independent noisy releases)
    assert rows[("2026-W41", keys["tA"], "basic_user")]["hidden"] is True
    assert rows[("2026-W41", keys["tA"], "basic_user")]["active_users"] is None
    assert rows[("2026-W41", ALL, "basic_user")]["active_users"] == 8

    daily = client.get(
        "/api/reports/active-users?grain=day&from=2026-10-05&to=2026-10-11", principal=READER
    ).json()
    assert [r["period"] for r in daily["rows"] if r["user_type"] == ALL and not r["hidden"]] == [
        "2026-10-05",
        "2026-10-06",
        "2026-10-07",
        "2026-10-08",
        "2026-10-09",
    ]

    features = client.get(
        "/api/reports/features?grain=week&from=2026-10-05&to=2026-10-25&user_type=(all)", principal=READER
    ).json()
    by = {(r["period"], r["feature"]): r for r in features["rows"]}
    assert by[("2026-W41", "/cases/{id}")]["users"] == 16
    assert by[("2026-W41", "/cases/{id}")]["share"] == 1.0
    assert ("2026-W41", "case.submitted") not in by
    assert by[("2026-W42", "case.submitted")]["users"] == 16

    launch = client.get(
        "/api/reports/launch?feature=case.submitted&app=workspace&date=2026-10-12&weeks=1", principal=READER
    ).json()
    assert [(r["week"], r["phase"], r["users"], r["hidden"]) for r in launch["rows"]] == [
        ("2026-W41", "before", None, True),  # unused that week: hidden, never 0
        ("2026-W42", "after", 16, False),
    ]
    assert launch["summary"]["share_after"] == 1.0

    retention = client.get("/api/reports/retention?from=2026-10-05&to=2026-10-25", principal=READER).json()
    cohort = next(r for r in retention["rows"] if r["cohort"] == "2026-W41" and r["user_type"] == ALL)
    assert cohort["users"] == 16 and cohort["active"][:2] == [16, 16] and cohort["weeks_elapsed"] >= 2

    tenants = client.get("/api/reports/tenants", principal=READER).json()["tenants"]
    assert {t["tenant"] for t in tenants} == set(keys.values())
    assert all(t["first_seen"] == "2026-10-05" for t in tenants)

    onboarding = client.get(f"/api/reports/onboarding?tenant={keys['tA']}&weeks=3", principal=READER).json()
    assert [r["week"] for r in onboarding["rows"]] == ["2026-W41", "2026-W42", "2026-W43"]
    # exactly N weeks even when the first day is not a Monday
    entry = client.services.tables.tenants.tenant(keys["tA"])
    client.services.tables.tenants.save_tenant(replace(entry, first_seen=date(2026, 10, 8)))
    thursday = client.get(f"/api/reports/onboarding?tenant={keys['tA']}&weeks=2", principal=READER).json()
    assert [r["week"] for r in thursday["rows"]] == ["2026-W41", "2026-W42"]
    assert onboarding["rows"][0]["active_users"] == 8
    assert onboarding["rows"][1]["new_features"] == ["workspace: case.submitted"]


def test_month_stickiness_is_mean_dau_over_mau(seeded):
    client, _ = seeded
    client.clock.now = datetime(2026, 11, 3, tzinfo=UTC)
    client.services.aggregation.run()
    body = client.get(
        "/api/reports/active-users?grain=month&from=2026-10-01&to=2026-10-31", principal=READER
    ).json()
    row = next(r for r in body["rows"] if r["tenant"] == ALL and r["user_type"] == ALL)
    # 16 users on each of 15 weekdays of 31 days; stickiness is computed from released day values
    # only, so with the weekend days hidden (0 users < k) it is not shown (never a guess)
    assert row["active_users"] == 16 and row["stickiness"] is None
    weekly = client.get(
        "/api/reports/active-users?grain=week&from=2026-10-05&to=2026-10-11&user_type=(all)", principal=READER
    ).json()["rows"]
    assert weekly[0]["stickiness"] is None
    days = client.get(
        "/api/reports/active-users?grain=day&from=2026-10-05&to=2026-10-11&user_type=(all)", principal=READER
    ).json()["rows"]
    # the weekend days have no events at all, so nothing is released for them (no row)
    assert [(r["period"], r["active_users"]) for r in days] == [(f"2026-10-0{d}", 16) for d in range(5, 10)]
    daily = client.get("/api/reports/active-users?grain=day&from=2026-10-05&to=2026-10-05", principal=READER)
    assert daily.json()["rows"][0]["stickiness"] is None


def test_csv_has_a_header_row_of_the_row_fields(seeded):
    client, _ = seeded
    response = client.get(
        "/api/reports/active-users?grain=week&from=2026-10-05&to=2026-10-18",
        principal=READER,
        headers={"Accept": "text/csv"},
    )
    assert response.status == 200 and response.header("Content-Type").startswith("text/csv")
    assert response.header("Cache-Control") == "no-store"
    table = list(csv.reader(io.StringIO(response.body.decode())))
    assert table[0] == [
        "period",
        "tenant",
        "user_type",
        "hidden",
        "active_users",
        "sessions",
        "events",
        "stickiness",
        "moe",
    ]
    json_rows = client.get(
        "/api/reports/active-users?grain=week&from=2026-10-05&to=2026-10-18", principal=READER
    ).json()["rows"]
    assert len(table) - 1 == len(json_rows) and table[1][4] == str(json_rows[0]["active_users"])
    hidden = [line for line in table[1:] if line[3] == "True"]
    assert hidden and all(line[4:7] == ["", "", ""] for line in hidden)
    empty = client.get(
        "/api/reports/retention?from=2020-01-06&to=2020-02-01",
        principal=READER,
        headers={"Accept": "text/csv"},
    )
    assert empty.body.decode().strip() == "cohort,tenant,user_type,hidden,users,active,moe,weeks_elapsed"
    # JSON when JSON is preferred
    assert (
        client.get(ROUTES[1], principal=READER, headers={"Accept": "application/json, text/csv"})
        .header("Content-Type")
        .startswith("application/json")
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/reports/active-users?grain=week&from=2026-10-05&to=2026-10-25&tenant=*",
        "/api/reports/active-users?grain=day&from=2026-10-05&to=2026-10-25&tenant=*",
        "/api/reports/features?grain=week&from=2026-10-05&to=2026-10-25&tenant=*",
        "/api/reports/retention?from=2026-10-05&to=2026-10-25&tenant=*",
    ],
)
def test_a_user_type_filter_returns_exactly_that_types_rows(seeded, path):
    """The filter is applied by the table service: it must give what filtering every row would."""
    client, _ = seeded
    every = client.get(path, principal=READER).json()["rows"]
    types = {row["user_type"] for row in every}
    assert ALL in types and len(types) > 1
    for user_type in types:
        narrowed = client.get(f"{path}&user_type={quote(user_type)}", principal=READER).json()["rows"]
        assert narrowed == [row for row in every if row["user_type"] == user_type]


def test_no_pseudonym_session_event_or_raw_tenant_id_in_any_response(seeded):
    client, keys = seeded
    texts = []
    for path in (
        "/api/reports/tenants",
        "/api/reports/active-users?grain=day&from=2026-10-05&to=2026-10-25&tenant=*",
        "/api/reports/features?grain=week&from=2026-10-05&to=2026-10-25&tenant=*",
        "/api/reports/retention?from=2026-10-05&to=2026-10-25&tenant=*",
        f"/api/reports/onboarding?tenant={keys['tA']}",
        "/api/reports/launch?feature=case.submitted&date=2026-10-12",
    ):
        response = client.get(path, principal=READER)
        assert response.status == 200, path
        texts.append(response.body.decode())
    text = "\n".join(texts)
    stored = client.stored()
    for table, rows in stored.items():
        for row in rows:
            for name in ("pseudonym", "session_id"):
                if name in row:
                    assert str(row[name]) not in text
            if table.endswith(tuple(f"ev{d}" for d in ("20261005", "20261012"))):
                assert row["RowKey"] not in text  # event ids
                assert row["tenant"] not in text  # salt-derived tenant references
    for tenant_id in TENANT_IDS.values():
        assert tenant_id not in text
    # the report tables themselves hold no pseudonym either (only the raw-class rollup does)
    report_text = json.dumps(
        {t: r for t, r in stored.items() if "rpt" in t or t.endswith("tenants")}, default=str
    )
    pseudonyms = {row["pseudonym"] for t, rows in stored.items() for row in rows if "pseudonym" in row}
    assert pseudonyms
    rollup_text = json.dumps({t: r for t, r in stored.items() if t[-10:-8] == "ud"}, default=str)
    for pseudonym in pseudonyms:
        assert f"u{pseudonym:016x}" in rollup_text  # the rollup is pseudonymous (raw class) ...
        assert (
            f"{pseudonym:016x}" not in report_text and str(pseudonym) not in report_text
        )  # ... cells are not


def test_storage_trouble_is_503(seeded, monkeypatch):
    client, _ = seeded

    def down(*args, **kwargs):
        raise StorageUnavailable("table storage is unavailable")

    monkeypatch.setattr(client.services.storage, "query", down)
    monkeypatch.setattr(client.services.storage, "partition", down)
    for path in ROUTES:
        response = client.get(path, principal=READER)
        assert response.status == 503 and response.header("Retry-After")


def test_tenant_directory_names_tenants_by_key_and_is_audited(seeded):
    client, keys = seeded
    response = client.put(f"/api/ops/tenants/{TENANT_IDS['tA']}", {"name": "Contoso Energy"}, principal=OPS)
    assert response.status == 200
    assert response.json() == {"tenant": keys["tA"], "name": "Contoso Energy"}
    listed = {t["tenant"]: t for t in client.get("/api/reports/tenants", principal=READER).json()["tenants"]}
    assert listed[keys["tA"]]["name"] == "Contoso Energy" and listed[keys["tA"]]["first_seen"] == "2026-10-05"
    assert listed[keys["tB"]]["name"] is None
    audit = [
        r
        for rows in client.stored().values()
        for r in rows
        if r.get("operation", "").startswith("PUT /api/ops/tenants")
    ]
    assert len(audit) == 1 and TENANT_IDS["tA"] not in json.dumps(audit, default=str)
    assert client.put(f"/api/ops/tenants/{TENANT_IDS['tA']}", {"name": "x"}, principal=READER).status == 403
    assert client.put(f"/api/ops/tenants/{TENANT_IDS['tA']}", {"name": ""}, principal=OPS).status == 400
    assert (
        client.put(f"/api/ops/tenants/{TENANT_IDS['tA']}", {"name": "x", "id": 1}, principal=OPS).status
        == 400
    )
    # a tenant named before it sends anything gets a key, which its first event then uses
    new = client.put(
        "/api/ops/tenants/33333333-cccc-4000-8000-000000000003", {"name": "Fabrikam"}, principal=OPS
    )
    assert new.status == 200
    assert client.services.tenants.key_of("33333333-cccc-4000-8000-000000000003") == new.json()["tenant"]


def test_tenant_key_survives_salt_rotation(client, vault):
    tenant_id = TENANT_IDS["tA"]
    principal = principal_header(tenant_id=tenant_id)
    assert (
        client.put(
            "/api/consent", {"status": "granted", "policy_version": "2026-04"}, principal=principal
        ).status
        == 200
    )
    event = {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "name": "app.launch",
        "session_id": "00000000-0000-4000-8000-000000000009",
    }
    assert client.post("/api/events", {"events": [event]}, principal=principal).status == 202
    before = client.services.tenants.key_of(tenant_id)
    vault.rotate()
    client.services.salts._refresh_at = 0  # the cache would pick the rotation up after its TTL
    client.services.tenants._known.clear()
    assert (
        client.put(
            "/api/consent", {"status": "granted", "policy_version": "2026-04"}, principal=principal
        ).status
        == 200
    )
    event["event_id"] = "00000000-0000-4000-8000-000000000002"
    assert client.post("/api/events", {"events": [event]}, principal=principal).status == 202
    refs = client.services.tables.tenants.ref_map()
    assert len(refs) == 2 and set(refs.values()) == {before}


def test_rollup_expires_with_the_raw_days_and_is_erased_and_exported(seeded):
    client, _ = seeded
    store = client.services.reports._store
    assert store.user_day_days()[0] == START
    user = {"user_id": "00000000-0000-4000-8000-000000000001", "tenant_id": TENANT_IDS["tA"]}
    exported = client.post("/api/ops/export", user, principal=OPS).json()
    assert len(exported["activity"]) == 15 and exported["first_seen"][0]["cohort"] == "2026-W41"
    assert client.post("/api/ops/erasure", {**user, "mode": "unlink"}, principal=OPS).status == 200
    again = client.post("/api/ops/export", user, principal=OPS).json()
    assert again["activity"] == [] and again["first_seen"] == []
    # retention: 24 months later every rollup day and index row is gone, the cells stay
    cells_before = store.active("week", ALL, "2026-W41", "2026-W41")
    client.clock.now = datetime(2028, 12, 1, tzinfo=UTC)
    client.services.retention.run()
    assert store.user_day_days() == [] and store.first_seen() == {}
    assert store.active("week", ALL, "2026-W41", "2026-W41") == cells_before


def test_rebuild_is_idempotent(seeded):
    client, _ = seeded
    store = client.services.reports._store
    before = (
        store.active("week", None, "2026-W41", "2026-W43"),
        store.features("week", None, "2026-W41", "2026-W43"),
    )
    cohorts = store.cohorts(None, "2026-W41", "2026-W43")
    response = client.post(
        "/api/ops/aggregation/run", {"from": "2026-10-05", "to": "2026-10-25"}, principal=OPS
    )
    assert response.status == 200 and response.json()["built_weeks"] == ["2026-W41", "2026-W42", "2026-W43"]
    after = (
        store.active("week", None, "2026-W41", "2026-W43"),
        store.features("week", None, "2026-W41", "2026-W43"),
    )
    assert sorted(before[0], key=repr) == sorted(after[0], key=repr)
    assert sorted(before[1], key=repr) == sorted(after[1], key=repr)
    assert sorted(store.cohorts(None, "2026-W41", "2026-W43"), key=repr) == sorted(cohorts, key=repr)


def test_demo_data_is_local_only_and_populates_every_report(client, monkeypatch):
    from tools import demo_data

    monkeypatch.setenv("WEBSITE_SITE_NAME", "func-prod")
    with pytest.raises(demo_data.DemoRefused):
        demo_data.seed(client.services, days=7)
    assert demo_data.seed_in_background() is None
    monkeypatch.delenv("WEBSITE_SITE_NAME")
    assert demo_data.is_empty(client.services)
    client.clock.now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    monkeypatch.setattr(demo_data, "LAUNCH_DAYS_AGO", 21)
    assert demo_data.seed(client.services, days=35) > 1000
    assert not demo_data.is_empty(client.services)
    tenants = client.get("/api/reports/tenants", principal=READER).json()["tenants"]
    assert len(tenants) == 5 and all("(synthetic)" in t["name"] for t in tenants)
    weekly = client.get("/api/reports/active-users?grain=week&tenant=*", principal=READER).json()["rows"]
    assert {r["tenant"] for r in weekly} > {ALL}
    features = client.get("/api/reports/features?grain=week", principal=READER).json()["rows"]
    assert any(r["app"] == "insights" for r in features)
    retention = client.get("/api/reports/retention", principal=READER).json()["rows"]
    assert retention and any(r["active"][0] > 0 for r in retention)


def test_days_built_before_the_reports_existed_are_rebuilt_once(client):
    """Upgrade path: final days without a rollup are rebuilt once, then weeks and cohorts follow."""
    events = [
        stored_event(
            datetime(2026, 10, 5 + d, 12, tzinfo=UTC),
            pseudonym=2**40 + u,
            tenant_ref="tOld",
            session_id=f"00000000-0000-4000-8000-{u:012d}",
        )
        for d in range(7)
        for u in range(6)
    ]
    keep(client.services.tables, events)
    client.clock.now = datetime(2026, 10, 20, tzinfo=UTC)
    client.services.aggregation.run()
    store = client.services.reports._store
    for day in store.user_day_days():  # as if the days had been built by the release before
        store.drop_user_days(day)
    result = client.services.aggregation.run()
    assert len(result.built_days) == 7
    assert client.services.aggregation.run().built_days == []
    week = store.active("week", ALL, "2026-W41", "2026-W41")
    assert [(c.user_type, c.active_users) for c in week if c.user_type == ALL] == [(ALL, 6)]


def test_demo_data_seeds_surveys_with_snapshots_and_a_notification(client, monkeypatch):
    """The demo's surveys are answered through the domain and published by its scheduled
    snapshots: three quarterly NPS surveys form a trend, results are by directory tenant key, every
    shown count clears the threshold (hidden ones are null), and the demo notification centre has
    a notification (DEMO_USERS-sized)."""
    from tools import demo_data

    client.clock.now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    assert demo_data.seed(client.services, days=21, users_total=60) > 100
    report = client.get("/api/reports/surveys", principal=READER).json()
    k = report["k"]
    assert len(report["surveys"]) == 4
    assert [t["series"] for t in report["trends"]] == ["quarterly-nps"]
    points = report["trends"][0]["points"]
    assert len(points) == 3 and all(p["answers"] >= k for p in points)
    assert all(s["as_of"] is not None and not s["suppressed"] for s in report["surveys"])
    names = {t["tenant"] for t in client.get("/api/reports/tenants", principal=READER).json()["tenants"]}
    for survey in report["surveys"]:
        cells = survey["by_tenant"]
        assert {c["key"] for c in cells} <= names
        counts = [survey["answers"], *survey["distribution"].values(), *survey["nps_groups"].values()]
        counts += [c["answers"] for c in survey["by_user_type"] + cells]
        assert all(n is None or n >= k for n in counts), survey
    pending = client.services.notifications.pending(
        Principal(user_id="someone", tenant_id="t", roles=frozenset(), user_type="basic_user"), None
    ).items
    assert sorted(i.kind for i in pending) == ["notification", "survey"]
