"""Bounded load against the local host: N concurrent clients for S seconds, loopback only.

    python -m bench.load --clients 16 --seconds 60     # make stress
    python -m bench.load --clients 4 --seconds 5       # the quick version in make test

Starts `tools.localhost` (with its own Azurite) on a free loopback port, grants consent for each
client's user, then every client posts batches of 10 events over a keep-alive connection until
the time is up. Reports requests/s, events/s, p50/p95/p99 latency and error counts, and checks
that every accepted event is in storage. Target: 0 responses >= 500.
Results: bench/results/load.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, principal, write_results
from testing.principal import STAFF_TENANT_ID, principal_header

BATCH = 10
OPERATOR = principal_header(
    "load-ops", STAFF_TENANT_ID, roles=("Cetegra.Analytics.Operator",), name=None, long_claims=False
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any, headers: dict[str, str]
) -> tuple[int, Any]:
    conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def start_host(port: int) -> subprocess.Popen[bytes]:
    salt = Path(tempfile.mkdtemp(prefix="cetegra-load-")) / "salt"
    # Each client is one principal sending far faster than a person could: the abuse limit (429)
    # would cap it at EVENTS_PER_MINUTE. The limit has its own tests; this run measures the server.
    env = {
        **os.environ,
        "DEV_SALT_FILE": str(salt),
        "POLICY_VERSION": "2026-04",
        "DECLINED_MODE": "drop",
        "EVENTS_PER_MINUTE": "100000",  # the highest the setting accepts
        "DEMO_DATA": "0",  # the load run measures ingestion alone
    }
    host = subprocess.Popen(
        [sys.executable, "-m", "tools.localhost", "--port", str(port), "--no-func"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return host
        except OSError:
            time.sleep(0.2)
    host.terminate()
    raise RuntimeError("local host did not start")


def run(clients: int, seconds: float) -> dict[str, Any]:
    from testing.azurite import free_port

    port = free_port()
    host = start_host(port)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted_ids: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    try:
        for c in range(clients):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status, _ = call(
                conn,
                "PUT",
                "/api/consent",
                {"status": "granted", "policy_version": "2026-04"},
                {"X-MS-CLIENT-PRINCIPAL": principal(f"load-user-{c}", "load-tenant")},
            )
            assert status == 200, status

        def client(c: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"X-MS-CLIENT-PRINCIPAL": principal(f"load-user-{c}", "load-tenant")}
            session = str(uuid.uuid4())
            while time.monotonic() < stop_at:
                events = [
                    {
                        "event_id": str(uuid.uuid4()),
                        "name": "nav.page_view",
                        "session_id": session,
                        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                        "app": "workspace",
                        "page": f"/cases/{c}/view",
                    }
                    for _ in range(BATCH)
                ]
                started = time.perf_counter()
                try:
                    status, body = call(conn, "POST", "/api/events", {"events": events}, headers)
                except (OSError, http.client.HTTPException):
                    status, body = 0, {}
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 202 and body.get("accepted") == BATCH:
                        accepted_ids.extend(e["event_id"] for e in events)

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - began

        stored: set[str] = set()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        ops = {"X-MS-CLIENT-PRINCIPAL": OPERATOR}
        for c in range(clients):
            status, body = call(
                conn,
                "POST",
                "/api/ops/export",
                {"user_id": f"load-user-{c}", "tenant_id": "load-tenant"},
                ops,
            )
            assert status == 200, status
            stored.update(e["event_id"] for e in body["events"])
    finally:
        host.terminate()
        host.wait(timeout=30)
    requests = sum(statuses.values())
    server_errors = sum(n for s, n in statuses.items() if s >= 500 or s == 0)
    return {
        "clients": clients,
        "seconds": round(took, 2),
        "requests": requests,
        "requests_per_s": requests / took,
        "events_per_s": len(accepted_ids) / took,
        "latency_ms": {
            "p50": percentile(latencies, 0.50) * 1000,
            "p95": percentile(latencies, 0.95) * 1000,
            "p99": percentile(latencies, 0.99) * 1000,
        },
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": server_errors,
        "accepted_events": len(accepted_ids),
        "accepted_events_missing_from_storage": len(set(accepted_ids) - stored),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/load.json")
    args = parser.parse_args(argv)
    result = run(max(1, min(args.clients, 64)), max(1.0, min(args.seconds, 600.0)))
    lat = result["latency_ms"]
    print(
        f"{result['clients']} clients, {result['seconds']} s: {result['requests_per_s']:.1f} req/s, "
        f"{result['events_per_s']:.0f} events/s; latency p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, "
        f"p99 {lat['p99']:.1f} ms; statuses {result['statuses']}; 5xx/failed: {result['server_errors']}; "
        f"accepted but missing: {result['accepted_events_missing_from_storage']}"
    )
    if not args.no_write:
        write_results("load.json", {"measured_at": datetime.now(UTC).isoformat(), **result})
    return 0 if result["server_errors"] == 0 and result["accepted_events_missing_from_storage"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
