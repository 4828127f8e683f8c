"""Reports benchmark against one fresh Azurite (results: bench/results/reports.json).

* Reads: 24 months of report aggregates for TENANTS tenants, written directly through
  ReportsStore; then p50/p95 of each report route called through the local host's router
  (the registered functions, the HTTP edge, the reader role check, JSON). Target p95 <= 250 ms.
* Nightly build: one raw day of events from every tenant; the aggregation run of that day
  (daily cells + user rollup + day report cells) against a raw SDK `$select` scan of the same
  table with the same fields, alternating, median of rounds. Target <= 1.5x. A week close
  (7 rollup days → week cells, features, cohorts) is timed too.

`--quick` writes fewer scopes (see SIZE) for a loaded machine; the result file says which.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import principal, report, timed
from shared.kernel.periods import month_key, week_key
from testing.principal import STAFF_TENANT_ID

TENANTS = 200
ROUNDS = 3
REQUESTS = 25
EVENTS_PER_USER = 30
"""A working day of page views and actions per active user in the nightly-build day."""
FEATURES = (
    ("workspace", "app.launch"),
    ("workspace", "/home"),
    ("workspace", "/projects/{id}"),
    ("docs", "/docs/{id}"),
    ("catalog", "catalog.ordered"),
    ("support", "case.submitted"),
)
USER_TYPES = ("basic_user", "advanced_user", "it_admin")
TODAY = date(2026, 11, 23)


def keys(n: int) -> list[str]:
    return [f"k{i:016x}" for i in range(1, n + 1)]


def write_aggregates(
    store: Any, tenants: list[str], rng: random.Random, *, full_types: bool, span: int = 730
) -> int:
    """24 months of day/week/month active cells, weekly/monthly features and cohorts, as the
    build would leave them: per tenant its (all) row (and per user type when `full_types`), plus
    the overall rows. Returns the number of cells written."""
    from shared.reporting.cells import ALL
    from shared.storage.reports import ActiveCell, CohortCell, FeatureCell

    scopes = [(ALL, ALL), *((ALL, u) for u in USER_TYPES)]
    for t in tenants:
        scopes.append((t, ALL))
        if full_types:
            scopes += [(t, u) for u in USER_TYPES]
    first = TODAY - timedelta(days=span)
    days = [first + timedelta(days=i) for i in range(span)]
    weeks = sorted({week_key(d) for d in days})[1:-1]
    months = sorted({month_key(d) for d in days})[1:-1]

    def active(grain: str, period: str, base: int) -> list[ActiveCell]:
        cells = []
        for t, u in scopes:
            users = base * (300 if t == ALL else 1) + rng.randint(5, 30)
            sticky = 0.3 if grain != "day" else None
            moe = (9.0, 235.0, 1568.0)  # released rows carry their margins (docs/privacy-model.md)
            cells.append(ActiveCell(grain, period, t, u, users, base * 3, base * 40, sticky, moe))
        return cells

    day_cells = [c for day in days for c in active("day", day.isoformat(), 10)]
    cells_by_grain = {"day": day_cells, "week": [], "month": []}
    features_by_grain: dict[str, list[FeatureCell]] = {"week": [], "month": []}
    for grain, periods, base in (("week", weeks, 20), ("month", months, 40)):
        for period in periods:
            cells_by_grain[grain] += active(grain, period, base)
            features_by_grain[grain] += [
                FeatureCell(grain, period, t, u, app, feature, rng.randint(5, 40), rng.randint(50, 400))
                for t, u in scopes
                for app, feature in FEATURES
            ]
    store.load(cells_by_grain, features_by_grain)
    cohorts = [
        CohortCell(week, t, u, 20, tuple(rng.randint(5, 20) for _ in range(12)))
        for week in weeks
        for t, u in scopes
    ]
    store.load_cohorts(cohorts)
    for grain, periods in (("week", weeks), ("month", months)):
        for period in periods:
            store.save_period_state(f"active-{grain}", period, final=True, tenants=())
    for week in weeks:
        store.save_period_state("cohort", week, final=True, tenants=())
    written = sum(len(v) for v in cells_by_grain.values()) + sum(len(v) for v in features_by_grain.values())
    written += len(cohorts)
    return written


def write_issue24(storage: Any, tenants: list[str], rng: random.Random, *, span: int, people: int) -> int:
    """The issue-24 reports' inputs: funnel cells for every week of the span ((all) and each
    tenant, every user type, both funnels and modes, as the nightly build leaves them), a launch
    marker a month, and `people` consent decisions (the coverage pass reads every one)."""
    from shared.reporting.cells import ALL
    from shared.reporting.funnels import catalogue
    from shared.storage.consent import ConsentChange, ConsentRecord, ConsentStore
    from shared.storage.funnels import FunnelCell, FunnelStore
    from shared.storage.markers import Marker, MarkerStore

    funnels = FunnelStore(storage)
    first = TODAY - timedelta(days=span)
    weeks = sorted({week_key(first + timedelta(days=i)) for i in range(span)})[1:-2]
    written = 0
    for week in weeks:
        cells = []
        for tenant in (ALL, *tenants):
            for user_type in (ALL, *USER_TYPES):
                for funnel in catalogue().funnels:
                    for mode in ("session", "7d"):
                        top = rng.randint(20, 60) * (50 if tenant == ALL else 1)
                        steps: list[int | None] = [top, top * 7 // 10, top * 4 // 10]
                        cells.append(FunnelCell(tenant, week, user_type, funnel.funnel_id, mode, steps))
        written += funnels.replace_week(week, cells)
        funnels.mark_built(week, catalogue().fingerprint)
    markers = MarkerStore(storage)
    for i, week in enumerate(weeks[::4]):
        day = date.fromisocalendar(int(week[:4]), int(week[6:]), 1)
        markers.add(
            Marker(
                f"m{day:%Y%m%d}{i:08x}", day, "case.submitted", "support", f"Release {i}", datetime.now(UTC)
            )
        )
    consent = ConsentStore(storage)
    now = datetime.now(UTC)
    for n in range(people):
        status = "granted" if rng.random() < 0.7 else "declined"
        consent.decide(
            f"c{n:015x}",
            ConsentRecord(status, "2026-04", now, "v1"),
            ConsentChange(now, "unset", status, "2026-04", ""),
        )
    return written


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_routes(router: Any, tenant: str) -> dict[str, dict[str, float]]:
    header = principal("bench-reader", STAFF_TENANT_ID, roles=("Cetegra.Analytics.Reader",))
    last = (TODAY - timedelta(days=1)).isoformat()
    active = f"/api/reports/active-users?to={last}&grain="
    routes = {
        "tenants": "/api/reports/tenants",
        "active-users day 28d (all)": f"{active}day",
        "active-users week 12w one tenant": f"{active}week&tenant={tenant}",
        "active-users month 12m stickiness": f"{active}month&from=2025-11-01",
        "active-users week 12w every tenant": f"{active}week&tenant=*&user_type=(all)",
        "features week 12w (all)": f"/api/reports/features?grain=week&to={last}",
        "features month 12m one tenant": f"/api/reports/features?grain=month&to={last}&tenant={tenant}",
        "retention 16w (all)": f"/api/reports/retention?to={last}",
        "onboarding 12w": f"/api/reports/onboarding?tenant={tenant}&weeks=12",
        "launch 4+4w": "/api/reports/launch?feature=case.submitted&app=support&date=2026-09-01",
        # issue 24
        "funnels 12w (all)": f"/api/reports/funnels?to={last}",
        "funnels 12w one tenant, 7d": f"/api/reports/funnels?to={last}&tenant={tenant}&mode=7d",
        "funnels 4w every tenant": f"/api/reports/funnels?to={last}&tenant=*&user_type=(all)",
        "tenant-table 12w": "/api/reports/tenant-table?weeks=12",
        "coverage": "/api/reports/coverage",
        "markers": "/api/reports/markers",
        "status": "/api/reports/status",
    }
    out = {}
    for name, path in routes.items():
        samples = []
        for i in range(REQUESTS + 2):
            started = time.perf_counter()
            response = router.call(
                "GET", f"http://localhost:7071{path}", {"X-MS-CLIENT-PRINCIPAL": header}, b""
            )
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.get_body()[:200]!r}")
            if i >= 2:  # two warm-up calls
                samples.append(elapsed)
        body = json.loads(response.get_body())
        rows = len(body.get("rows", body.get("tenants", body.get("markers", []))))
        out[name] = {
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(percentile(samples, 0.95), 1),
            "rows": rows,
        }
        print(
            f"  {name}: p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms ({rows} rows)",
            file=sys.stderr,
        )
    return out


def raw_day(day: date, tenants: int, users: int, rng: random.Random) -> list[Any]:
    from testing.factories import stored_event

    events = []
    for t in range(tenants):
        for u in range(users):
            moment = datetime(day.year, day.month, day.day, 8 + u % 9, tzinfo=UTC)
            pseudonym = 2**62 + t * 1000 + u
            session = f"{t:08x}-{u:04x}-4000-8000-{rng.randint(0, 1):012x}"
            for _ in range(EVENTS_PER_USER):
                app, feature = rng.choice(FEATURES)
                name, page = ("nav.page_view", feature) if feature.startswith("/") else (feature, None)
                events.append(
                    stored_event(
                        moment,
                        name=name,
                        session_id=session,
                        app=app,
                        page=page,
                        tenant_ref=f"r{t:016x}",
                        user_type=USER_TYPES[u % 3],
                        pseudonym=pseudonym,
                    )
                )
    return events


def bench_build(conn: str, tenants: int, users: int, rng: random.Random) -> dict[str, Any]:
    from azure.data.tables import TableServiceClient

    from bench.timers import settings
    from shared.ingestion.ingest import keep
    from shared.reporting.build import ReportBuilder
    from shared.services import build
    from shared.storage import Storage, Tables
    from shared.storage.events import FACT_COLUMNS
    from shared.storage.reports import ReportsStore

    day = TODAY - timedelta(days=3)
    store = Storage.connect(connection_string=conn, endpoint=None, prefix="night")
    events = raw_day(day, tenants, users, rng)
    keep(Tables.over(store), events)
    svc = build(
        settings(conn, "night"),
        storage=store,
        clock=lambda: datetime.combine(TODAY, datetime.min.time(), UTC),
    )
    raw_service = TableServiceClient.from_connection_string(conn)
    svc.tables.events.days()  # lists the tables: no earlier-layout table to include
    raw_tables = [raw_service.get_table_client(t) for t in svc.tables.events.tables(day)]

    def raw_scan() -> None:
        count = sum(
            1 for t in raw_tables for _ in t.list_entities(select=FACT_COLUMNS, results_per_page=1000)
        )
        if count != len(events):
            raise RuntimeError(f"scan saw {count} events")

    def nightly() -> None:
        result = svc.aggregation.run(day, day)
        if result.events != len(events):
            raise RuntimeError(f"build saw {result.events} events")

    scans, builds = [], []
    for round_ in range(ROUNDS):
        for name, action, into in (("scan", raw_scan, scans), ("build", nightly, builds))[
            :: 1 if round_ % 2 == 0 else -1
        ]:
            wall, _ = timed(action)
            into.append(wall)
            print(f"  nightly round {round_ + 1}: {name} {wall:.2f} s", file=sys.stderr)

    # a week close: the same day's rollup copied to the 7 days of a week, then the week's
    # released cells; with noise (the real build) and in the test kit's exact mode (the same code
    # without draws), alternating over fresh weeks (a released week is never built again)
    from shared.privacy.disclosure.releases import Releaser
    from shared.reporting.build import Domain
    from shared.services import FEATURE_DOMAIN

    reports = ReportsStore(store)

    def domain() -> Domain:
        return Domain(tuple(e.key for e in svc.tables.tenants.tenants()), FEATURE_DOMAIN)

    rows = list(reports.user_days(day))
    closes: dict[str, list[float]] = {"noise": [], "exact": []}
    for round_ in range(ROUNDS):
        for mode in ("noise", "exact") if round_ % 2 == 0 else ("exact", "noise"):
            builder = ReportBuilder(reports, Releaser(5, noise=mode == "noise"), domain)
            monday = day - timedelta(days=day.weekday() + 14 + 7 * len(closes["noise"] + closes["exact"]))
            for i in range(7):
                reports.replace_user_days(monday + timedelta(days=i), rows)
            week = week_key(monday)
            wall, _ = timed(lambda b=builder, w=week: b.build_period("week", w))
            closes[mode].append(wall)
            print(f"  week close ({mode}) from 7 rollup days: {wall:.2f} s", file=sys.stderr)
    week_wall = statistics.median(closes["noise"])
    week_exact = statistics.median(closes["exact"])
    day_wall = statistics.median(builds)
    return {
        "events": len(events),
        "tenants": tenants,
        "active_users": tenants * users,
        "raw_scan_seconds": statistics.median(scans),
        "nightly_build_seconds": statistics.median(builds),
        "build_vs_scan": statistics.median(builds) / statistics.median(scans),
        "rollup_rows": len(rows),
        "week_close_seconds": week_wall,
        "week_close_exact_mode_seconds": statistics.median(closes["exact"]),
        "week_close_noise_vs_exact": week_wall / week_exact,
        # a Monday night: the day's build and the week close (the costliest night of a week)
        "monday_with_noise_seconds": day_wall + week_wall,
        "monday_exact_mode_seconds": day_wall + week_exact,
        "monday_noise_vs_exact": (day_wall + week_wall) / (day_wall + week_exact),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="(all) and per-tenant rows only, fewer events")
    parser.add_argument("--tenants", type=int, default=TENANTS)
    parser.add_argument("--days", type=int, default=730, help="days of aggregates (730 = 24 months)")
    parser.add_argument(
        "--people", type=int, default=20000, help="consent decisions (coverage reads them all)"
    )
    parser.add_argument("--routes-only", action="store_true", help="skip the nightly-build comparison")
    parser.add_argument("--out", default="reports.json", help="result file under bench/results/")
    args = parser.parse_args(argv)

    from shared.services import build, install
    from shared.storage import Storage
    from shared.storage.reports import ReportsStore
    from testing.azurite import Azurite
    from testing.host import Router

    rng = random.Random(20261126)
    tenants = keys(args.tenants)
    with Azurite(("table",)) as azurite:
        conn = azurite.connection_string()
        from bench.timers import settings

        store = Storage.connect(connection_string=conn, endpoint=None, prefix="rep")
        reports = ReportsStore(store)
        started = time.perf_counter()
        cells = write_aggregates(reports, tenants, rng, full_types=not args.quick, span=args.days)
        write_seconds = time.perf_counter() - started
        print(f"wrote {cells} cells in {write_seconds:.0f} s", file=sys.stderr)
        from shared.storage.tenants import TenantEntry, TenantStore

        started = time.perf_counter()
        people = 2000 if args.quick else args.people
        funnel_cells = write_issue24(store, tenants, rng, span=args.days, people=people)
        print(
            f"wrote {funnel_cells} funnel cells, {people} consent decisions "
            f"in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        for key in tenants[:5]:
            TenantStore(store).save_tenant(
                TenantEntry(key, f"Bench tenant {key[-3:]}", TODAY - timedelta(days=700))
            )
        install(
            build(
                settings(conn, "rep"),
                storage=store,
                clock=lambda: datetime.combine(TODAY, datetime.min.time(), UTC),
            )
        )
        import function_app

        router = Router.from_app(function_app.app)
        routes = bench_routes(router, tenants[0])
        skipped = {"build_vs_scan": 0.0, "nightly_build_seconds": 0.0, "raw_scan_seconds": 0.0, "events": 0}
        nightly = (
            skipped if args.routes_only else bench_build(conn, args.tenants, 10 if args.quick else 15, rng)
        )
    worst = max(r["p95_ms"] for r in routes.values())
    summary = {
        "size": {
            "tenants": args.tenants,
            "months": round(args.days / 30.4),
            "cells": cells,
            "per_tenant_user_type_rows": not args.quick,
            "quick": args.quick,
            "funnel_cells": funnel_cells,
            "consent_decisions": people,
            "routes_only": args.routes_only,
        },
        "worst_route_p95_ms": worst,
        "nightly_build_vs_scan": nightly["build_vs_scan"],
        "targets": {
            "every report route p95 <= 250 ms": worst <= 250,
            "nightly build of a day <= 1.5x raw scan": args.routes_only or nightly["build_vs_scan"] <= 1.5,
            "a Monday night with releases <= 1.2x without noise": args.routes_only
            or nightly["monday_noise_vs_exact"] <= 1.2,
        },
    }
    print(
        f"nightly: build {nightly['nightly_build_seconds']:.2f} s "
        f"vs raw scan {nightly['raw_scan_seconds']:.2f} s "
        f"= {nightly['build_vs_scan']:.2f}x ({nightly['events']} events)",
        file=sys.stderr,
    )
    return report(
        args.out,
        summary["targets"],
        {
            "measured_at": datetime.now(UTC).isoformat(),
            "summary": summary,
            "routes": routes,
            "nightly": nightly,
            "aggregate_write_seconds": round(write_seconds, 1),
            "note": "Azurite in memory on a shared 2-core machine; figures are relative, not Azure's.",
        },
    )


if __name__ == "__main__":
    sys.exit(main())
