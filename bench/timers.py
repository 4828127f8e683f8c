"""Timer benchmarks against one fresh Azurite: retention cost vs. event count, aggregation vs. a scan.

* Retention: expire the same number of day periods holding ~1k, ~10k and ~100k events; print the
  storage operations (counted at the transport) and seconds for each. Target: operations
  independent of the event count.
* Aggregation: build one day of 100k events (its daily cells and, the month being final, its
  monthly cells) and, in the same run, time a raw `$select` scan of the same table with the plain
  SDK, and the project's own projected scan alone (alternating, median of rounds). Target
  build ≤ 0.6x the raw SDK scan.

Results: bench/results/timers.json.
"""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import CountingTransport, median, report, timed

PERIODS = 4
SIZES = (1_000, 10_000, 100_000)
AGG_EVENTS = 100_000
ROUNDS = 3
NAMES = ("app.launch", "nav.page_view", "feature.used", "case.submitted", "catalog.ordered")


def events_for(day: date, count: int, rng: random.Random, per_user: int = 50) -> list[Any]:
    """`count` events of one day from count/per_user users (a user's day is one partition)."""
    from testing.factories import stored_event

    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    out = []
    for i in range(count):
        user = 1 + i // per_user
        out.append(
            stored_event(
                moment,
                name=rng.choice(NAMES),
                session_id=f"{user:08x}-0000-4000-8000-{rng.randint(0, 3):012x}",
                app=rng.choice(("workspace", "docs", "catalog", "admin")),
                page="/cases/{id}",
                tenant_ref=f"t{user % 3:016x}",
                user_type=("basic_user", "advanced_user", "it_admin")[user % 3],
                pseudonym=None if user % 10 == 0 else 2**62 + user,
            )
        )
    return out


def storage(conn: str, prefix: str) -> tuple[Any, CountingTransport]:
    from shared.storage import Storage

    transport = CountingTransport(use_env_settings=False)
    return Storage.connect(
        connection_string=conn, endpoint=None, prefix=prefix, transport=transport
    ), transport


def settings(conn: str, prefix: str) -> Any:
    from shared.kernel.settings import Settings
    from testing.principal import STAFF_TENANT_ID

    return Settings.from_env(
        {
            "TABLES_CONNECTION_STRING": conn,
            "TABLE_PREFIX": prefix,
            "POLICY_VERSION": "2026-04",
            "DEV_SALT_FILE": os.environ["DEV_SALT_FILE"],
            "STAFF_TENANT_IDS": STAFF_TENANT_ID,  # the reports benchmark's reader signs in from it
        }
    )


def bench_retention(conn: str, rng: random.Random) -> list[dict[str, Any]]:
    from shared.ingestion.holder import RawEvents
    from shared.ingestion.ingest import keep
    from shared.lifecycle.retention import Retention
    from shared.storage import Tables

    results = []
    for size in SIZES:
        prefix = f"ret{size}"
        store, transport = storage(conn, prefix)
        tables = Tables.over(store)
        for period in range(PERIODS):
            keep(tables, events_for(date(2020, 1, 1) + timedelta(days=period), size // PERIODS, rng))
        before = transport.sent
        config, clock = settings(conn, prefix), lambda: datetime.now(UTC)
        retention = Retention([RawEvents(tables.events, tables.salt_usage, config, clock)], config, clock)
        outcome: dict[str, Any] = {}
        wall, _ = timed(lambda r=retention, o=outcome: o.update(result=r.run()))
        results.append(
            {
                "events": size,
                "periods_removed": outcome["result"].removed_periods,
                "storage_operations": transport.sent - before,
                "seconds": wall,
            }
        )
        print(
            f"retention: {size:>7} events in {PERIODS} periods -> {results[-1]['storage_operations']} "
            f"operations, {wall:.3f} s",
            file=sys.stderr,
        )
    return results


def bench_aggregation(conn: str, rng: random.Random) -> dict[str, Any]:
    from azure.data.tables import TableServiceClient

    from shared.ingestion.ingest import keep
    from shared.services import build
    from shared.storage import Tables
    from shared.storage.events import FACT_COLUMNS

    day = date(2020, 6, 15)
    store, _ = storage(conn, "agg")
    tables = Tables.over(store)
    keep(tables, events_for(day, AGG_EVENTS, rng))
    # the whole nightly build (daily cells, user rollup, report day cells), as the timer runs it
    aggregation = build(settings(conn, "agg"), storage=store, clock=lambda: datetime.now(UTC)).aggregation
    raw_service = TableServiceClient.from_connection_string(conn)
    tables.events.days()  # lists the tables: no earlier-layout table to include
    day_tables = tables.events.tables(day)
    raw_tables = [raw_service.get_table_client(t) for t in day_tables]

    def raw_scan() -> None:
        """The plain SDK reading the same day: each of its tables, one after another."""
        count = sum(
            1 for t in raw_tables for _ in t.list_entities(select=FACT_COLUMNS, results_per_page=1000)
        )
        if count != AGG_EVENTS:
            raise RuntimeError(f"scan saw {count} events")

    def build() -> None:
        result = aggregation.run(day, day)
        if result.events != AGG_EVENTS:
            raise RuntimeError(f"aggregation saw {result.events} events")

    def lean_scan() -> None:
        count = sum(1 for t in day_tables for _ in store.rows(t, FACT_COLUMNS))
        if count != AGG_EVENTS:
            raise RuntimeError(f"lean scan saw {count} events")

    scans: list[float] = []
    builds: list[float] = []
    leans: list[float] = []
    actions = (("scan", raw_scan, scans), ("build", build, builds), ("lean scan", lean_scan, leans))
    for round_ in range(ROUNDS):
        for name, action, into in actions[:: 1 if round_ % 2 == 0 else -1]:
            wall, _ = timed(action)
            into.append(wall)
            print(f"aggregation round {round_ + 1}: {name} {wall:.2f} s", file=sys.stderr)
    cells = len(tables.aggregates.daily(day))
    return {
        "events": AGG_EVENTS,
        "raw_scan_seconds": median(scans),
        "build_seconds": median(builds),
        "lean_scan_seconds": median(leans),
        "build_vs_scan": median(builds) / median(scans),
        "lean_scan_vs_scan": median(leans) / median(scans),
        "cells": cells,
    }


def main() -> int:
    from testing.azurite import Azurite

    rng = random.Random(20261123)
    load = [round(x, 2) for x in os.getloadavg()]  # 2 cores shared with other work: context
    with Azurite(("table",)) as azurite:
        conn = azurite.connection_string()
        retention = bench_retention(conn, rng)
        aggregation = bench_aggregation(conn, rng)
    operations = {r["storage_operations"] for r in retention}
    summary = {
        "retention_operations_independent_of_events": len(operations) == 1,
        "aggregation_build_vs_scan": aggregation["build_vs_scan"],
        "targets": {
            "retention operations independent of event count": len(operations) == 1,
            "aggregation build <= 0.6x raw SDK scan": aggregation["build_vs_scan"] <= 0.6,
        },
    }
    print("\nretention (periods removed, storage operations, seconds):")
    for r in retention:
        print(
            f"  {r['events']:>7} events: {r['periods_removed']} periods, "
            f"{r['storage_operations']} operations, {r['seconds']:.3f} s"
        )
    print(
        f"aggregation of {AGG_EVENTS} events: build {aggregation['build_seconds']:.2f} s "
        f"vs raw $select scan {aggregation['raw_scan_seconds']:.2f} s "
        f"= {aggregation['build_vs_scan']:.2f}x ({aggregation['cells']} cells); "
        f"lean projected scan alone {aggregation['lean_scan_seconds']:.2f} s "
        f"= {aggregation['lean_scan_vs_scan']:.2f}x"
    )
    return report(
        "timers.json",
        summary["targets"],
        {
            "measured_at": datetime.now(UTC).isoformat(),
            "load_average_before": load,
            "summary": summary,
            "retention": retention,
            "aggregation": aggregation,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
