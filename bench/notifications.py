"""Notifications benchmark: `GET /api/notifications` with 1,000 active users and 50 live items.

One fresh Azurite; 50 published items (notifications and surveys, some targeted at a user type,
a tenant or an app) and 1,000 users of 4 tenants and 3 user types, each with state for some items
(seen, dismissed, answered). Then every user asks for their pending items, in random order, three
rounds, through the local host's router (the registered function, principal parsing, pseudonym,
JSON) exactly as `make run` serves it. Storage calls are counted at the transport. The per-instance
cache of live items is on (30 s), as in production: a request that misses it costs two reads.

With the feed and the cadence (issue 25) in place: read notifications stay in the feed, surveys
pass the deployment's cadence (its defaults: day 3, one prompt per 14 days, pauses; half the
users were first seen 30 days ago, some prompted 3 days ago), and a request writes once (one
transaction) when something is new for the user: their first day, an item's first delivery.

Target: p95 ≤ 50 ms, at most two storage reads per request, at most one write per request.
Results: bench/results/notifications.json.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import counted_services, report
from testing.principal import principal_header

USERS = 1000
ITEMS = 50
ROUNDS = 3
TENANTS = [f"bench-tenant-{i}" for i in range(4)]
ROLES = ["", "Cetegra.AdvancedUser", "Cetegra.ITAdmin"]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    import function_app
    from shared.notifications.models import Audience, ItemFields, ItemPatch, Question
    from shared.privacy.identity import principal_from_header
    from shared.services import install
    from shared.storage.notifications import CadenceRecord, NotificationStore, StateRecord
    from testing.azurite import Azurite
    from testing.host import Router

    rng = random.Random(13)
    with Azurite(("table",)) as azurite:
        services, transport = counted_services(azurite.connection_string(), "nb", lambda: NOW)
        methods: list[str] = []
        send = transport.send

        def counted_send(request: Any, **kwargs: Any) -> Any:
            methods.append(request.method)
            return send(request, **kwargs)

        transport.send = counted_send  # type: ignore[method-assign]
        storage, settings = services.storage, services.settings
        install(services)
        notifications = services.notifications

        # the stable keys the tenant directory hands out (and audiences name)
        tenant_keys = [services.tenants.note(t, services.pseudonymizer.current(t, "x")) for t in TENANTS]
        item_ids = []
        for i in range(ITEMS):
            survey = i % 5 == 0
            audience = Audience()
            if i % 7 == 1:
                audience = Audience(user_types=["it_admin"])
            elif i % 7 == 2:
                audience = Audience(tenants=[tenant_keys[i % len(tenant_keys)]])
            elif i % 7 == 3:
                audience = Audience(apps=["catalog"])
            fields = ItemFields(
                kind="survey" if survey else "notification",
                title=f"Item {i}: what is new",
                body="A short text of a couple of sentences, as product notes are. " * 3,
                link=None if survey else "https://docs.cetegra.example/release-notes",
                priority="high" if i % 10 == 0 else "normal",
                question=Question(type="nps", text="How likely are you to recommend us?") if survey else None,
                audience=audience,
                starts_at=NOW - timedelta(days=1 + i % 5),
                ends_at=NOW + timedelta(days=30),
            )
            item = notifications.create(fields)
            notifications.update(item.id, ItemPatch(status="published"))
            item_ids.append(item.id)

        store = NotificationStore(storage)
        users = []
        for u in range(USERS):
            tenant, role = TENANTS[u % len(TENANTS)], ROLES[u % len(ROLES)]
            header = principal_header(f"bench-user-{u}", tenant, (role,) if role else (), name=None)
            parsed = principal_from_header(header, settings)
            identity = services.pseudonymizer.current(parsed.tenant_id, parsed.user_id)
            touched = rng.sample(item_ids, rng.randint(0, 20))
            rows = [
                StateRecord(
                    key=identity.notification_key,
                    item_id=item_id,
                    tenant=identity.tenant_ref,
                    user_type=parsed.user_type,
                    salt_version=identity.salt_version,
                    updated_at=NOW,
                    seen_at=NOW,
                    dismissed_at=NOW if n % 3 == 0 else None,
                    answered_at=NOW if n % 3 == 1 else None,
                )
                for n, item_id in enumerate(touched)
            ]
            cadence = None
            if u % 2 == 0:
                cadence = CadenceRecord(
                    key=identity.notification_key,
                    salt_version=identity.salt_version,
                    updated_at=NOW,
                    first_seen_at=NOW - timedelta(days=30),
                    last_prompt_at=NOW - timedelta(days=3) if u % 4 == 0 else None,
                )
            store.save_user_state(rows, cadence)
            users.append((header, "catalog" if u % 4 == 0 else "workspace"))
        print(f"seeded {ITEMS} live items and {USERS} users' state", file=sys.stderr)

        router = Router.from_app(function_app.app)
        notifications.invalidate()  # start cold: the first request reads the live items
        latencies: list[float] = []
        reads: list[int] = []
        writes: list[int] = []
        pending_counts: list[int] = []
        started = time.perf_counter()
        for _ in range(ROUNDS):
            order = list(users)
            rng.shuffle(order)
            for header, app in order:
                before = len(methods)
                t0 = time.perf_counter()
                response = router.call(
                    "GET",
                    f"http://localhost:7071/api/notifications?app={app}",
                    {"X-MS-CLIENT-PRINCIPAL": header},
                    b"",
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                done = methods[before:]
                reads.append(sum(1 for m in done if m == "GET"))
                writes.append(sum(1 for m in done if m != "GET"))
                assert response.status_code == 200, response.get_body()
                pending_counts.append(len(json.loads(response.get_body())["items"]))
        elapsed = time.perf_counter() - started

    install(None)
    p50, p95, p99 = (percentile(latencies, s) for s in (0.50, 0.95, 0.99))
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "users": USERS,
        "live_items": ITEMS,
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {
            "p50": round(p50, 2),
            "p95": round(p95, 2),
            "p99": round(p99, 2),
            "mean": round(statistics.fmean(latencies), 2),
            "max": round(max(latencies), 2),
        },
        "storage_reads_per_request": {
            "max": max(reads),
            "mean": round(statistics.fmean(reads), 3),
            "requests_with_two": sum(1 for r in reads if r == 2),
        },
        "storage_writes_per_request": {
            "max": max(writes),
            "requests_with_a_write": sum(1 for w in writes if w),
        },
        "pending_items_per_user": {
            "mean": round(statistics.fmean(pending_counts), 1),
            "max": max(pending_counts),
        },
        "cache_seconds": 30,
        "setup": "local host router in process, Azurite on loopback, one thread",
        "targets": {
            "p95 <= 50 ms": p95 <= 50,
            "at most two storage reads per request": max(reads) <= 2,
            "at most one write per request": max(writes) <= 1,
        },
    }
    print(
        f"GET /api/notifications: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms over "
        f"{len(latencies)} requests; storage reads per request max {max(reads)}, "
        f"mean {statistics.fmean(reads):.3f}; writes max {max(writes)} "
        f"({sum(1 for w in writes if w)} requests wrote)"
    )
    return report("notifications.json", result["targets"], result)


if __name__ == "__main__":
    sys.exit(main())
