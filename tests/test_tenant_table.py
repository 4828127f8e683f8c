"""The tenant table and consent coverage: one row per tenant from the published
reports, hidden figures null (never 0), the open week left out; coverage as a k-ruled tally."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from testing.principal import STAFF_TENANT_ID, principal_header

READER = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000aaaa",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Reader",),
)
TENANTS = {
    "tA": "11111111-aaaa-4000-8000-000000000001",
    "tB": "22222222-bbbb-4000-8000-000000000002",
    "tC": "33333333-cccc-4000-8000-000000000003",
}
START = date(2026, 10, 5)


def member(tenant: str, u: int) -> str:
    return principal_header(user_id=f"00000000-0000-4000-8000-{u:012d}", tenant_id=TENANTS[tenant])


def seed(client, sizes: dict[str, int], weeks: int = 3, declined: int = 0) -> None:
    client.clock.now = datetime(2026, 10, 5, 8, tzinfo=UTC)
    for tenant, users in sizes.items():
        for u in range(users + declined):
            status = "granted" if u < users else "declined"
            assert (
                client.put(
                    "/api/consent",
                    {"status": status, "policy_version": "2026-04"},
                    principal=member(tenant, u),
                )
            ).status == 200
    for offset in range(weeks * 7):
        day = START + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        client.clock.now = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        for tenant, users in sizes.items():
            for u in range(users):
                event = {
                    "event_id": f"{offset:08d}-{u:04d}-4000-8000-{ord(tenant[1]):012d}",
                    "name": "nav.page_view",
                    "session_id": f"{offset:08d}-0000-4000-8000-{u:012d}",
                    "page": "/cases",
                    "app": "workspace",
                }
                assert (
                    client.post("/api/events", {"events": [event]}, principal=member(tenant, u)).status == 202
                )


def test_one_row_per_tenant_with_hidden_figures_null(client):
    seed(client, {"tA": 8, "tB": 6, "tC": 3}, declined=2)
    client.clock.now = datetime(2026, 10, 28, 9, tzinfo=UTC)  # W44 open; W43 the last closed week
    client.services.aggregation.run()
    body = client.get("/api/reports/tenant-table?weeks=4", principal=READER).json()
    assert body["week"] == "2026-W43" and body["month"] == "2026-09" and body["k"] == 5
    rows = {row["tenant"]: row for row in body["rows"]}
    assert len(rows) == 3
    a, b, c = (rows[client.services.tenants.key_of(TENANTS[t])] for t in ("tA", "tB", "tC"))
    assert a["sparkline"] == [None, 8, 8, 8] and a["last_active_week"] == "2026-W43"
    assert a["wau"] == 8 and a["wau_change"] == 0 and a["first_seen"] == "2026-10-05"
    assert b["sparkline"] == [None, 6, 6, 6] and b["wau_moe"] is None  # the test kit's exact releases
    # tC has 3 people (under k): null and `wau_hidden`, never 0
    assert c["sparkline"] == [None, None, None, None] and c["wau"] is None
    assert c["wau_hidden"] and c["last_active_week"] is None and c["wau_change"] is None
    csv = client.get("/api/reports/tenant-table", principal=READER, headers={"Accept": "text/csv"})
    assert csv.status == 200 and csv.body.decode().startswith("tenant,name,first_seen")
    assert client.get("/api/reports/tenant-table?weeks=1", principal=READER).status == 400


def test_wau_change_against_the_week_before(client):
    seed(client, {"tA": 8}, weeks=2)
    client.clock.now = datetime(2026, 10, 21, 9, tzinfo=UTC)  # last closed week W42
    client.services.aggregation.run()
    row = client.get("/api/reports/tenant-table?weeks=2", principal=READER).json()["rows"][0]
    assert row["sparkline"] == [8, 8] and row["wau"] == 8 and row["wau_change"] == 0
    assert row["stickiness"] is None or 0 < row["stickiness"] <= 1


def test_coverage_counts_decisions_as_a_monthly_release(client):
    """Exact mode: the released counts are the decisions; `asked` is their sum; the month's
    release is stored at its first read and returned as it is afterwards (new decisions wait for
    next month's release)."""
    seed(client, {"tA": 8}, weeks=0, declined=6)
    body = client.get("/api/reports/coverage", principal=READER).json()
    assert body["rows"] == [
        {
            "tenant": "(all)",
            "asked": 14,
            "granted": 8,
            "declined": 6,
            "hidden": False,
            "granted_share": 0.5714,
            "moe": {},
        }
    ]
    assert body["per_tenant"] is False and body["as_of"]
    seed(client, {"tB": 8}, weeks=0, declined=0)
    assert client.get("/api/reports/coverage", principal=READER).json() == body


def test_coverage_hides_a_small_count_never_zero(client):
    """Released counts (docs/privacy-model.md): a count under the threshold is null, the others are
    shown — differencing `asked - granted` against a hidden `declined` reveals nothing, as every
    figure is noisy."""
    seed(client, {"tA": 8}, weeks=0, declined=2)
    row = client.get("/api/reports/coverage", principal=READER).json()["rows"][0]
    assert row["declined"] is None and row["granted"] == 8 and row["asked"] == 10 and row["hidden"]


def test_coverage_with_noise_has_margins_and_is_drawn_once_a_month(make_client):
    client = make_client(RELEASE_NOISE="true")
    seed(client, {"tA": 8}, weeks=0, declined=6)
    first = client.get("/api/reports/coverage", principal=READER).json()
    assert client.get("/api/reports/coverage", principal=READER).json() == first
    row = first["rows"][0]
    assert all(row[name] is None or row["moe"][name] > 0 for name in ("asked", "granted", "declined"))
