"""Faults: storage stopped in the middle of a load, and the guarantees that must hold through it.

Azurite runs with on-disk persistence here, so stopping it is an outage, not data loss. While it
is down the API answers 503 with Retry-After; it recovers on its own when storage returns; and
every event acknowledged with 202 is in storage afterwards, exactly once.
"""

from __future__ import annotations

import uuid

import pytest

from shared.services import build, install
from shared.storage import Storage
from testing.azurite import Azurite
from testing.client import POLICY, Client, make_settings
from testing.principal import principal_header

pytestmark = pytest.mark.azurite

USERS = [principal_header(user_id=f"fault-user-{i}", name=f"u{i}@contoso.com") for i in range(4)]


@pytest.fixture
def outage(tmp_path, router, vault, clock):
    emulator = Azurite(("table",), location=tmp_path / "azurite").start()
    settings = make_settings(emulator.connection_string())
    storage = Storage.connect(
        connection_string=emulator.connection_string(), endpoint=None, prefix=settings.table_prefix
    )
    services = build(settings, storage=storage, salt_source=vault.salt_source(), clock=clock)
    install(services)
    yield Client(router, services, vault, clock), emulator
    install(None)
    emulator.stop()


def batch(n=5):
    ts = "2026-11-23T11:59:00Z"
    return {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "name": "feature.used",
                "session_id": str(uuid.uuid4()),
                "ts": ts,
                "app": "workspace",
                "page": "/cases",
            }
            for _ in range(n)
        ]
    }


def test_storage_outage_mid_load(outage):
    client, emulator = outage
    for user in USERS:
        assert (
            client.put("/api/consent", {"status": "granted", "policy_version": POLICY}, principal=user).status
            == 200
        )
    acknowledged: set[str] = set()
    statuses: list[int] = []

    def send(rounds):
        for _ in range(rounds):
            for user in USERS:
                body = batch()
                response = client.post("/api/events", body, principal=user)
                statuses.append(response.status)
                if response.status == 202:
                    assert response.json()["accepted"] == 5
                    acknowledged.update(e["event_id"] for e in body["events"])
                else:
                    assert response.status == 503, response.body
                    assert response.header("Retry-After") == "5"
                    assert response.json()["error"]["code"] == "storage_unavailable"

    send(5)
    emulator.stop()  # storage goes away in the middle of the load
    send(3)
    assert statuses[-12:] == [503] * 12
    health = client.get("/api/health", principal=None)
    assert health.status == 503 and health.json()["checks"]["storage"] == "unavailable"
    emulator.start()  # and comes back on the same address with its data
    send(5)
    assert statuses[-20:] == [202] * 20  # recovered without a restart of the app

    stored = [
        event.event_id
        for day in client.services.tables.events.days()
        for event in client.services.tables.events.read(day)
    ]
    assert len(stored) == len(set(stored))  # exactly once
    assert acknowledged <= set(stored)  # every 202 is in storage
    assert len(acknowledged) == 10 * len(USERS) * 5


def test_retried_batch_after_an_outage_is_stored_once(outage):
    client, emulator = outage
    user = USERS[0]
    assert (
        client.put("/api/consent", {"status": "granted", "policy_version": POLICY}, principal=user).status
        == 200
    )
    body = batch(20)
    emulator.stop()
    assert client.post("/api/events", body, principal=user).status == 503
    emulator.start()
    assert client.post("/api/events", body, principal=user).status == 202
    assert client.post("/api/events", body, principal=user).status == 202  # the client retried once more
    rows = [
        event
        for day in client.services.tables.events.days()
        for event in client.services.tables.events.read(day)
    ]
    assert sorted(r.event_id for r in rows) == sorted(e["event_id"] for e in body["events"])


def test_vault_down_warm_then_cold(outage, vault):
    client, _ = outage
    user = USERS[1]
    assert (
        client.put("/api/consent", {"status": "granted", "policy_version": POLICY}, principal=user).status
        == 200
    )
    vault.down = True
    client.clock.advance(minutes=10)  # past the cache lifetime: the refresh fails, the warm salt serves
    client.services.salts._refresh_at = 0
    assert client.post("/api/events", batch(), principal=user).status == 202
    install(
        build(
            client.services.settings,
            storage=client.services.storage,
            salt_source=vault.salt_source(),
            clock=client.clock,
        )
    )  # a new worker: cold cache
    cold = client.post("/api/events", batch(), principal=user)
    assert cold.status == 503 and cold.json()["error"]["code"] == "key_vault_unavailable"
    vault.down = False
    assert client.post("/api/events", batch(), principal=user).status == 202
