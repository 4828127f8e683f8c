"""Ingestion benchmark: the project end to end vs. the raw Table SDK, side by side on one Azurite.

Measured in one run against one fresh in-memory Azurite, *paired*: every iteration times one raw
batch-100 transaction, then the project requests carrying the same 100 events, then ten naive
single-entity writes, then one plain-HTTP batch-100, so all see the same machine and Azurite state
(the 2-core machine and Azurite's own CPU make separate phases swing by ±30%):

* raw SDK — the plain azure-data-tables SDK writing batch-100 transactions (entities/s);
* emulator ceiling — batch-100 `$batch` bodies (built by shared/storage/wire.py) POSTed over one
  keep-alive `http.client` connection, Shared Key Lite signed, no pipeline: what Azurite itself
  can store on this machine (entities/s);
* naive baseline — one `create_entity` per event (entities/s);
* the project — the registered `events` function called with real `func.HttpRequest`s, consent
  granted, real pseudonyms, real Azurite, at client batch sizes 1, 10, 50, 100 (events/s);
* Table transactions per accepted event (counted by an azure-core transport);
* server CPU µs per event with storage I/O excluded (the same function over a storage that does
  no I/O), and, for reference, process CPU per event in the real run (includes the SDK's
  serialisation and HTTP client, not Azurite's CPU).

Targets (the project's own wire format): events/s ≥ 3x the raw SDK's entities/s at
batch 50, ≥ 1x at batch 10, ≥ 0.2x at batch 1 (a request per event); ≥ 3x naive at
batch 50, tx/event ≤ 2/batch + 0.01, ≤ 15 µs CPU per event. Results: bench/results/ingest.json.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from wsgiref.handlers import format_date_time

from bench.common import CountingTransport, median, principal, registered_function, report, timed


def load_average() -> list[float]:
    """The machine's 1/5/15-minute load (2 cores shared with other work): context for the figures."""
    return [round(x, 2) for x in os.getloadavg()]


BATCH_SIZES = (1, 10, 50, 100)
EVENTS_PER_SIZE = {1: 800, 10: 4000, 50: 10000, 100: 10000}
WARMUP_ROUNDS = 3
"""Paired rounds run before the measured ones and left out of every figure, raw SDK's and
plain HTTP's as much as the project's: Azurite is a Node process, and its V8 compiles each
request kind's code path on first use (a fresh Azurite served the project's first 800
single-event requests at 3.5 ms each, the next 800 at 2.7 ms)."""
USERS = 200
NAIVE_PER_ROUND = 10
CPU_EVENTS = 10000
CPU_REPEATS = 9


def _page(i: int) -> str:
    return f"/cases/{i}/edit?tab=history"


def raw_entities(count: int, now: datetime) -> list[dict[str, Any]]:
    from shared.storage.events import StoredEvent, entity_of

    return [
        entity_of(
            StoredEvent(
                event_id=str(uuid.uuid4()),
                name="nav.page_view",
                session_id=str(uuid.uuid4()),
                received=now,
                ts=now,
                app="workspace",
                page="/cases/{id}/edit",
                tenant_ref="t0123456789abcdef",
                user_type="basic_user",
                pseudonym=2**62 + (i // 100) * 7919,
                salt_version="0" * 32,
            )
        )
        for i in range(count)
    ]


class PlainHTTP:
    """The emulator ceiling: `$batch` bodies over one keep-alive connection, nothing else."""

    def __init__(self, conn: str, table: str) -> None:
        from azure.core.utils import parse_connection_string

        settings = parse_connection_string(conn)
        endpoint = urlsplit(settings["tableendpoint"])
        self.base = f"{endpoint.scheme}://{endpoint.netloc}{endpoint.path}".rstrip("/")
        self.path = endpoint.path.rstrip("/")
        self.account, self.key = settings["accountname"], settings["accountkey"]
        self.table = table
        self.http = http.client.HTTPConnection(endpoint.hostname or "127.0.0.1", endpoint.port, timeout=30)

    def send(self, entities: list[dict[str, Any]]) -> None:
        from shared.storage.wire import batch_body, batch_results, shared_key_lite

        content_type, body = batch_body(self.base, self.table, [("upsert", e) for e in entities])
        date = format_date_time(time.time())
        resource = f"/{self.account}{self.path}/$batch"
        headers = {
            "x-ms-version": "2019-02-02",
            "x-ms-date": date,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": content_type,
            "Accept": "application/json",
            "Authorization": shared_key_lite(self.account, self.key, date, resource),
        }
        self.http.request("POST", f"{self.path}/$batch", body=body, headers=headers)
        response = self.http.getresponse()
        payload = response.read()
        results = batch_results(response.getheader("Content-Type", ""), payload)
        if response.status != 202 or sum(200 <= result.status < 300 for result in results) != len(entities):
            raise RuntimeError(f"plain batch failed: {response.status}")


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
    from shared.kernel import settings as settings_module
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
    from shared.privacy.consent import ConsentDecision
    from shared.privacy.identity import principal_from_header

    for u in range(USERS):
        who = principal_from_header(principal(f"user-{u}"), services.settings)
        services.consent.decide(who, ConsentDecision(status="granted", policy_version="2026-04"))


def bench_paired(conn: str, batch: int, events: Any, now: datetime) -> dict[str, float]:
    """Project at `batch` vs raw batch-100 vs naive vs plain HTTP, interleaved; tx counted in
    steady state."""
    from azure.data.tables import TableServiceClient

    transport = CountingTransport(use_env_settings=False)  # as Storage.connect configures it
    services = project_services(conn, f"p{batch}", transport)
    grant_all(services)
    services.tables.events.ensure_day(now.date())  # as the retention timer does each night
    per_round = max(1, 100 // batch)
    warm_events = WARMUP_ROUNDS * per_round * batch
    requests = build_requests(batch, warm_events + EVENTS_PER_SIZE[batch] + batch, now)
    raw_service = TableServiceClient.from_connection_string(conn)
    raw_table = raw_service.create_table(f"raw{batch}")
    naive_table = raw_service.create_table(f"naive{batch}")
    raw_service.create_table(f"plain{batch}")
    plain = PlainHTTP(conn, f"plain{batch}")
    rounds = (len(requests) - 1) // per_round  # the warm-up rounds first
    raw = raw_entities(rounds * 100, now)
    naive = raw_entities(rounds * NAIVE_PER_ROUND, now)
    plain_entities = raw_entities(rounds * 100, now)

    def send(chunk: list[Any]) -> None:
        for request in chunk:
            response = events(request)
            if response.status_code != 202:
                raise RuntimeError(f"{response.status_code}: {response.get_body()[:200]!r}")

    before = transport.sent
    send(requests[:1])  # the day's first request: creates tables, notes the salt version
    setup_tx = transport.sent - before
    requests = requests[1:]
    project_s = raw_s = naive_s = plain_s = project_cpu = 0.0
    for r in range(rounds):
        if r == WARMUP_ROUNDS:
            before = transport.sent
            project_s = raw_s = naive_s = plain_s = project_cpu = 0.0
        wall, _ = timed(
            lambda r=r: raw_table.submit_transaction([("upsert", e) for e in raw[r * 100 : r * 100 + 100]])
        )
        raw_s += wall
        wall, cpu = timed(lambda r=r: send(requests[r * per_round : (r + 1) * per_round]))
        project_s += wall
        project_cpu += cpu
        chunk = naive[r * NAIVE_PER_ROUND : (r + 1) * NAIVE_PER_ROUND]
        wall, _ = timed(lambda chunk=chunk: [naive_table.create_entity(e) for e in chunk])
        naive_s += wall
        wall, _ = timed(lambda r=r: plain.send(plain_entities[r * 100 : r * 100 + 100]))
        plain_s += wall
    measured = rounds - WARMUP_ROUNDS
    accepted = measured * per_round * batch
    tx = transport.sent - before
    stored = sum(1 for _ in services.tables.events.read(now.date()))
    if stored != rounds * per_round * batch + batch:
        raise RuntimeError(f"stored {stored} of {rounds * per_round * batch + batch} accepted events")
    for table in services.storage.list_tables(""):  # keep Azurite's in-memory store small
        services.storage.delete_table(table)
    raw_service.delete_table(f"raw{batch}")
    raw_service.delete_table(f"naive{batch}")
    raw_service.delete_table(f"plain{batch}")
    return {
        "events_per_s": accepted / project_s,
        "requests_per_s": measured * per_round / project_s,
        "raw_entities_per_s": measured * 100 / raw_s,
        "emulator_ceiling_entities_per_s": measured * 100 / plain_s,
        "naive_entities_per_s": measured * NAIVE_PER_ROUND / naive_s,
        "tx_per_event": tx / accepted,
        "first_request_tx": setup_tx,
        "process_cpu_us_per_event": project_cpu / accepted * 1e6,
    }


class NoIOStorage:
    """Storage stand-in for the CPU measurement: our code runs fully, nothing is sent."""

    def __new__(cls, real: Any, now: datetime) -> Any:
        from shared.storage import Storage
        from shared.storage.consent import CONSENT, ConsentRecord, state_row

        class _Storage(Storage):
            def get(self, table: str, partition: str, row: str) -> dict[str, Any] | None:
                """Granted consent; nothing else exists (the tenant key is minted once, then cached)."""
                if table != self.table(CONSENT):
                    return None
                return state_row(partition, ConsentRecord("granted", "2026-04", now, None))

            def write_partition(self, table: str, entities: list[dict[str, Any]], *, upsert: bool) -> None:
                return None

            def get_versioned(
                self, table: str, partition: str, row: str
            ) -> tuple[dict[str, Any], str] | None:
                return None

            def write_conditional(
                self, table: str, entities: list[dict[str, Any]], marker: dict[str, Any], etag: str | None
            ) -> str:
                """As `write_partition`: nothing is built or sent (the ETag lets later requests
                take the known-marker path, as they do against a real store)."""
                return "W/\"datetime'2026-11-26T00%3A00%3A00Z'\""

        return _Storage(real.service, "cpu")


def bench_cpu(conn: str, batch: int, events: Any, now: datetime) -> float:
    from shared.storage import Storage

    real = Storage.connect(connection_string=conn, endpoint=None)
    project_services(conn, "cpu", None, storage=NoIOStorage(real, now))
    requests = build_requests(batch, CPU_EVENTS, now)
    for request in requests[:50]:  # warm caches (salt, regexes) outside the measurement
        events(request)
    best = min(timed(lambda: [events(r) for r in requests])[1] for _ in range(CPU_REPEATS))
    return best / (len(requests) * batch) * 1e6


def main() -> int:
    from testing.azurite import Azurite

    events = registered_function("events")
    now = datetime.now(UTC)
    with Azurite(("table",)) as azurite:
        conn = azurite.connection_string()
        measured = {}
        for batch in BATCH_SIZES:
            measured[batch] = bench_paired(conn, batch, events, now)
            m = measured[batch]
            print(
                f"batch {batch}: {m['events_per_s']:.0f} events/s, raw {m['raw_entities_per_s']:.0f}/s, "
                f"naive {m['naive_entities_per_s']:.0f}/s, "
                f"plain HTTP {m['emulator_ceiling_entities_per_s']:.0f}/s",
                file=sys.stderr,
            )
        cpu = {b: bench_cpu(conn, b, events, now) for b in BATCH_SIZES}

    project = {
        f"b{b}": {
            **m,
            "vs_raw_sdk": m["events_per_s"] / m["raw_entities_per_s"],
            "vs_emulator_ceiling": m["events_per_s"] / m["emulator_ceiling_entities_per_s"],
            "vs_naive": m["events_per_s"] / m["naive_entities_per_s"],
            "tx_target": 2 / b + 0.01,
            "cpu_us_per_event_storage_io_excluded": cpu[b],
        }
        for b, m in measured.items()
    }
    b50 = project["b50"]
    summary = {
        "raw_sdk_entities_per_s": median([m["raw_entities_per_s"] for m in measured.values()]),
        "emulator_ceiling_entities_per_s": median(
            [m["emulator_ceiling_entities_per_s"] for m in measured.values()]
        ),
        "naive_entities_per_s": median([m["naive_entities_per_s"] for m in measured.values()]),
        "vs_raw_sdk": {f"b{b}": project[f"b{b}"]["vs_raw_sdk"] for b in BATCH_SIZES},
        "b50_vs_naive": b50["vs_naive"],
        "targets": {
            "b50 >= 3x raw SDK": b50["vs_raw_sdk"] >= 3,
            "b10 >= 1x raw SDK": project["b10"]["vs_raw_sdk"] >= 1,
            "b1 >= 0.2x raw SDK (requests/s vs entities/s)": project["b1"]["vs_raw_sdk"] >= 0.2,
            "b50_vs_naive >= 3": b50["vs_naive"] >= 3,
            "tx_per_event <= 2/batch + 0.01 (all sizes)": all(
                p["tx_per_event"] <= p["tx_target"] for p in project.values()
            ),
            "cpu_us_per_event <= 15 (b50)": b50["cpu_us_per_event_storage_io_excluded"] <= 15,
        },
    }
    raw, naive = summary["raw_sdk_entities_per_s"], summary["naive_entities_per_s"]
    ceiling = summary["emulator_ceiling_entities_per_s"]
    print(f"\nraw SDK (batch-100 tx, median of pairings):          {raw:.0f} entities/s")
    print(f"emulator ceiling (plain HTTP batch-100, median):      {ceiling:.0f} entities/s")
    print(f"naive (create_entity each, median of pairings):       {naive:.0f} entities/s")
    print(
        f"{'batch':>6} {'events/s':>9} {'req/s':>7} {'raw/s':>6} {'xraw':>5} {'ceil/s':>7} {'xceil':>6} "
        f"{'xnaive':>7} {'tx/event':>9} {'target':>7} {'1st req tx':>10} {'CPU us/ev':>9} {'(real run)':>10}"
    )
    for b in BATCH_SIZES:
        p = project[f"b{b}"]
        print(
            f"{b:>6} {p['events_per_s']:>9.0f} {p['requests_per_s']:>7.0f} {p['raw_entities_per_s']:>6.0f} "
            f"{p['vs_raw_sdk']:>5.2f} {p['emulator_ceiling_entities_per_s']:>7.0f} "
            f"{p['vs_emulator_ceiling']:>6.2f} {p['vs_naive']:>7.2f} {p['tx_per_event']:>9.4f} "
            f"{p['tx_target']:>7.4f} {p['first_request_tx']:>10} "
            f"{p['cpu_us_per_event_storage_io_excluded']:>9.1f} {p['process_cpu_us_per_event']:>10.1f}"
        )
    return report(
        "ingest.json",
        summary["targets"],
        {
            "measured_at": now.isoformat(),
            "method": "paired",
            "load_average_before": load_average(),
            "summary": summary,
            "project": project,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
