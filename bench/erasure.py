"""Erasure benchmark: one user with 24 monthly periods of data among 100k other events.

Prints, from one run against one fresh Azurite: erasure time, storage calls (counted at the
transport) and entities read, next to a full scan of the same tables with the plain SDK (what an
erasure without the pseudonym-keyed layout would have to do). Target: erasure reads
≥ 10x fewer entities than the scan. Results: bench/results/erasure.json.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime
from typing import Any

from bench.common import StaticSalt, counted_services, report, timed

PERIODS = 24
OTHERS = 100_000
PER_PERIOD = 5
USER, TENANT = "erasure-subject", "erasure-tenant"


def main() -> int:
    from azure.data.tables import TableServiceClient

    from shared.ingestion.ingest import keep
    from shared.privacy.pseudonyms import SaltCache, derive
    from shared.storage.events import LINK_COLUMNS
    from testing.azurite import Azurite
    from testing.factories import stored_event

    rng = random.Random(5)
    days = [date(2025, 1 + m % 12, 1) if m < 12 else date(2026, 1 + m % 12, 1) for m in range(PERIODS)]
    with Azurite(("table",)) as azurite:
        conn = azurite.connection_string()
        services, transport = counted_services(conn, "er", lambda: datetime(2026, 12, 15, tzinfo=UTC))
        storage = services.storage
        subject = derive(SaltCache(StaticSalt(), ttl=60).current(), TENANT, USER)

        def event(day: date, pseudonym: int) -> Any:
            moment = datetime(day.year, day.month, day.day, rng.randint(0, 23), tzinfo=UTC)
            return stored_event(
                moment, name="nav.page_view", page="/cases/{id}", tenant_ref="t1", pseudonym=pseudonym
            )

        for day in days:
            keep(services.tables, [event(day, subject.event_pseudonym) for _ in range(PER_PERIOD)])
            per_day = OTHERS // PERIODS
            # other users, ~50 events each per day: one transaction per user (a realistic shape)
            keep(services.tables, [event(day, 10**9 + day.month * 1000 + i // 50) for i in range(per_day)])
        print(
            f"seeded {PERIODS} periods: {PERIODS * PER_PERIOD} subject events, "
            f"{(OTHERS // PERIODS) * PERIODS} others",
            file=sys.stderr,
        )

        raw = TableServiceClient.from_connection_string(conn)
        services.tables.events.days()  # lists the tables: no earlier-layout table to include
        scanned = 0

        def full_scan() -> None:
            nonlocal scanned
            for day in days:
                for table in services.tables.events.tables(day):  # the day's eight tables
                    for entity in raw.get_table_client(table).list_entities(select=LINK_COLUMNS):
                        scanned += 1
                        _ = entity

        scan_seconds, _ = timed(full_scan)

        read = 0
        real_partition = storage.partition

        def counting_partition(*args: Any, **kwargs: Any) -> list[Any]:
            nonlocal read
            rows = real_partition(*args, **kwargs)
            read += len(rows)
            return rows

        storage.partition = counting_partition  # type: ignore[method-assign]
        before = transport.sent
        outcome: dict[str, Any] = {}
        erase_seconds, _ = timed(lambda: outcome.update(r=services.erasure.erase(USER, TENANT, "delete")))
        operations = transport.sent - before
        affected = outcome["r"]["events_affected"]
        left = sum(
            1 for day in days for _ in services.tables.events.user_events(day, subject.event_pseudonym)
        )

    result = {
        "periods": PERIODS,
        "subject_events": PERIODS * PER_PERIOD,
        "other_events": (OTHERS // PERIODS) * PERIODS,
        "erasure": {
            "seconds": erase_seconds,
            "storage_operations": operations,
            "entities_read": read,
            "events_deleted": affected,
            "left_after": left,
        },
        "full_scan": {"seconds": scan_seconds, "entities_read": scanned},
        "entities_read_ratio": scanned / max(read, 1),
        "targets": {
            "erasure reads >= 10x fewer entities than a scan": scanned / max(read, 1) >= 10,
            "every subject event deleted": affected == PERIODS * PER_PERIOD and left == 0,
        },
    }
    print(
        f"erasure: {erase_seconds:.2f} s, {operations} storage operations, {read} entities read, "
        f"{affected} deleted, {left} left"
    )
    print(f"full scan of the same tables: {scan_seconds:.2f} s, {scanned} entities read")
    print(f"entities read: scan / erasure = {result['entities_read_ratio']:.0f}x")
    return report("erasure.json", result["targets"], {"measured_at": datetime.now(UTC).isoformat(), **result})


if __name__ == "__main__":
    sys.exit(main())
