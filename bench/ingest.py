"""Ingestion benchmark: the project end to end vs. the raw Table SDK, side by side on one Azurite.

Measured in one run against one fresh in-memory Azurite, in alternating rounds (median reported):

* raw ceiling — the plain azure-data-tables SDK writing batch-100 transactions (entities/s);
* naive baseline — one `create_entity` per event (entities/s);
* the project — the registered `events` function called with real `func.HttpRequest`s, consent
  granted, real pseudonyms, real Azurite, at client batch sizes 1, 10, 50, 100 (events/s);
* Table transactions per accepted event (counted by an azure-core transport);
* server CPU µs per event with storage I/O excluded (the same function over a storage that does
  no I/O), and, for reference, process CPU per event in the real run (includes the SDK's
  serialisation and HTTP client, not Azurite's CPU).

Targets (issue 3): batch 50 ≥ 0.8x raw ceiling and ≥ 3x naive; tx/event ≤ 2/batch + 0.01;
≤ 15 µs CPU per event. Results: bench/results/ingest.json.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import CountingTransport, median, principal, registered_function, timed, write_results

BATCH_SIZES = (1, 10, 50, 100)
EVENTS_PER_SIZE = {1: 600, 10: 3000, 50: 10000, 100: 10000}
RAW_ENTITIES = 10000
NAIVE_ENTITIES = 1000
USERS = 200
ROUNDS = 3
CPU_EVENTS = 20000


def _page(i: int) -> str:
    return f"/cases/{i}/edit?tab=history"


def raw_entities(count: int, now: datetime) -> list[dict[str, Any]]:
    from azure.data.tables import EdmType, EntityProperty

    out = []
    for i in range(count):
        out.append(
            {
                "PartitionKey": f"u{(i // 100) * 7919:016x}",
                "RowKey": str(uuid.uuid4()),
                "name": "nav.page_view",
                "session_id": str(uuid.uuid4()),
                "received": now,
                "ts": now,
                "app": "workspace",
                "page": "/cases/{id}/edit",
                "tenant": "t0123456789abcdef",
                "user_type": "basic_user",
                "salt_version": "0" * 32,
                "pseudonym": EntityProperty(2**62 + i, EdmType.INT64),
            }
        )
    return out


def bench_raw(conn: str, round_: int, now: datetime) -> dict[str, float]:
    from azure.data.tables import TableServiceClient

    transport = CountingTransport()
    service = TableServiceClient.from_connection_string(conn, transport=transport)
    table = service.create_table(f"raw{round_}")
    entities = raw_entities(RAW_ENTITIES, now)
    batches = [entities[i : i + 100] for i in range(0, len(entities), 100)]

    def write() -> None:
        for chunk in batches:
            table.submit_transaction([("upsert", e) for e in chunk])

    before = transport.sent
    wall, _ = timed(write)
    ceiling = RAW_ENTITIES / wall
    naive_table = service.create_table(f"naive{round_}")
    naive = raw_entities(NAIVE_ENTITIES, now)

    def write_naive() -> None:
        for entity in naive:
            naive_table.create_entity(entity)

    naive_wall, _ = timed(write_naive)
    service.delete_table(f"raw{round_}")
    service.delete_table(f"naive{round_}")
    return {
        "raw_entities_per_s": ceiling,
        "raw_tx_per_entity": (transport.sent - before) / RAW_ENTITIES,
        "naive_entities_per_s": NAIVE_ENTITIES / naive_wall,
    }


def build_requests(batch: int, total: int, now: datetime) -> list[Any]:
    import azure.functions as func

    requests = []
    ts = (now - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    for r in range(total // batch):
        user = f"user-{r % USERS}"
        session = str(uuid.uuid5(uuid.NAMESPACE_URL, user))
        body = {
            "events": [
                {
                    "event_id": str(uuid.uuid4()),
                    "name": "nav.page_view",
                    "session_id": session,
                    "ts": ts,
                    "app": "workspace",
                    "page": _page(r * batch + i),
                }
                for i in range(batch)
            ]
        }
        requests.append(
            func.HttpRequest(
                method="POST",
                url="http://localhost:7071/api/events",
                headers={"Content-Type": "application/json", "X-MS-CLIENT-PRINCIPAL": principal(user)},
                params={},
                route_params={},
                body=json.dumps(body).encode(),
            )
        )
    return requests


def project_services(conn: str, prefix: str, transport: CountingTransport | None, storage: Any = None) -> Any:
    from shared import settings as settings_module
    from shared.services import build, install
    from shared.storage import Storage

    settings = settings_module.Settings.from_env(
        {
            "TABLES_CONNECTION_STRING": conn,
            "TABLE_PREFIX": prefix,
            "POLICY_VERSION": "2026-04",
            "DEV_SALT_FILE": settings_module.load().dev_salt_file.as_posix(),
        }
    )
    if storage is None:
        storage = Storage.connect(connection_string=conn, endpoint=None, prefix=prefix, transport=transport)
    services = build(settings, storage=storage)
    install(services)
    return services


def grant_all(services: Any) -> None:
    from shared.consent import ConsentDecision
    from shared.identity import principal_from_header

    for u in range(USERS):
        who = principal_from_header(principal(f"user-{u}"), services.settings)
        services.consent.decide(who, ConsentDecision(status="granted", policy_version="2026-04"))


def bench_project(conn: str, round_: int, batch: int, events: Any, now: datetime) -> dict[str, float]:
    transport = CountingTransport(use_env_settings=False)  # as Storage.connect configures it
    services = project_services(conn, f"p{round_}b{batch}", transport)
    grant_all(services)
    requests = build_requests(batch, EVENTS_PER_SIZE[batch], now)

    def send() -> None:
        for request in requests:
            response = events(request)
            if response.status_code != 202:
                raise RuntimeError(f"{response.status_code}: {response.get_body()[:200]!r}")

    before = transport.sent
    wall, cpu = timed(send)
    accepted = len(requests) * batch
    stored = sum(1 for _ in services.storage.read_events(now.date()))
    if stored != accepted:
        raise RuntimeError(f"stored {stored} of {accepted} accepted events")
    for table in services.storage.list_tables(""):  # keep Azurite's in-memory store small
        services.storage.delete_table(table)
    return {
        "events_per_s": accepted / wall,
        "tx_per_event": (transport.sent - before) / accepted,
        "process_cpu_us_per_event": cpu / accepted * 1e6,
    }


class NoIOStorage:
    """Storage stand-in for the CPU measurement: our code runs fully, nothing is sent."""

    def __new__(cls, real: Any, now: datetime) -> Any:
        from shared.storage import Storage

        class _Storage(Storage):
            def get(self, table: str, partition: str, row: str) -> dict[str, Any]:
                return {"status": "granted", "policy_version": "2026-04", "decided_at": now}

            def write_partition(self, table: str, entities: list[dict[str, Any]], *, upsert: bool) -> None:
                return None

        return _Storage(real.service, "cpu")


def bench_cpu(conn: str, batch: int, events: Any, now: datetime) -> float:
    from shared.storage import Storage

    real = Storage.connect(connection_string=conn, endpoint=None)
    project_services(conn, "cpu", None, storage=NoIOStorage(real, now))
    requests = build_requests(batch, CPU_EVENTS, now)
    for request in requests[:50]:  # warm caches (salt, regexes) outside the measurement
        events(request)
    _, cpu = timed(lambda: [events(r) for r in requests])
    return cpu / (len(requests) * batch) * 1e6


def main() -> int:
    from tools.azurite import Azurite

    events = registered_function("events")
    now = datetime.now(UTC)
    rounds: list[dict[str, Any]] = []
    with Azurite(("table",)) as azurite:
        conn = azurite.connection_string()
        for round_ in range(ROUNDS):
            result: dict[str, Any] = {}
            order: list[int | None] = [None, *BATCH_SIZES]  # None = raw SDK and naive baselines
            order = (
                order[round_ % len(order) :] + order[: round_ % len(order)]
            )  # rotate: no phase always first
            for batch in order:
                if batch is None:
                    result.update(bench_raw(conn, round_, now))
                else:
                    result[f"b{batch}"] = bench_project(conn, round_, batch, events, now)
            rounds.append(result)
            print(
                f"round {round_ + 1}/{ROUNDS}: raw {result['raw_entities_per_s']:.0f}/s, "
                f"b50 {result['b50']['events_per_s']:.0f}/s",
                file=sys.stderr,
            )
        cpu = {f"b{b}": bench_cpu(conn, b, events, now) for b in BATCH_SIZES}

    raw = median([r["raw_entities_per_s"] for r in rounds])
    naive = median([r["naive_entities_per_s"] for r in rounds])
    project = {
        f"b{b}": {
            "events_per_s": median([r[f"b{b}"]["events_per_s"] for r in rounds]),
            "tx_per_event": median([r[f"b{b}"]["tx_per_event"] for r in rounds]),
            "tx_target": 2 / b + 0.01,
            "process_cpu_us_per_event": median([r[f"b{b}"]["process_cpu_us_per_event"] for r in rounds]),
            "cpu_us_per_event_storage_io_excluded": cpu[f"b{b}"],
        }
        for b in BATCH_SIZES
    }
    b50 = project["b50"]
    summary = {
        "raw_ceiling_entities_per_s": raw,
        "naive_entities_per_s": naive,
        "b50_vs_raw_ceiling": b50["events_per_s"] / raw,
        "b50_vs_naive": b50["events_per_s"] / naive,
        "targets": {
            "b50_vs_raw_ceiling >= 0.8": b50["events_per_s"] / raw >= 0.8,
            "b50_vs_naive >= 3": b50["events_per_s"] / naive >= 3,
            "tx_per_event <= 2/batch + 0.01 (all sizes)": all(
                p["tx_per_event"] <= p["tx_target"] for p in project.values()
            ),
            "cpu_us_per_event <= 15 (b50)": b50["cpu_us_per_event_storage_io_excluded"] <= 15,
        },
    }
    print(f"\nraw SDK ceiling (batch-100 tx): {raw:10.0f} entities/s")
    print(f"naive (create_entity each):     {naive:10.0f} entities/s")
    print(
        f"{'batch':>6} {'events/s':>10} {'xraw':>6} {'xnaive':>7} {'tx/event':>9} {'target':>7} "
        f"{'CPU µs/ev':>10} {'(real run)':>10}"
    )
    for b in BATCH_SIZES:
        p = project[f"b{b}"]
        rate = p["events_per_s"]
        print(
            f"{b:>6} {rate:>10.0f} {rate / raw:>6.2f} {rate / naive:>7.2f} {p['tx_per_event']:>9.4f} "
            f"{p['tx_target']:>7.4f} {p['cpu_us_per_event_storage_io_excluded']:>10.1f} "
            f"{p['process_cpu_us_per_event']:>10.1f}"
        )
    for target, met in summary["targets"].items():
        print(f"  {'MET ' if met else 'MISS'} {target}")
    path = write_results(
        "ingest.json",
        {
            "measured_at": now.isoformat(),
            "rounds": ROUNDS,
            "summary": summary,
            "project": project,
            "raw_rounds": rounds,
        },
    )
    print(f"written to {path.relative_to(path.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
