"""Health reports each dependency and nothing about it beyond ok/unavailable."""

from __future__ import annotations

from shared.services import build, install
from shared.storage import Storage
from testing.azurite import ACCOUNT, ACCOUNT_KEY, free_port
from testing.client import make_settings


def test_healthy(client):
    response = client.get("/api/health", principal=None)
    assert response.status == 200
    assert response.json() == {"status": "ok", "checks": {"storage": "ok", "salt": "ok"}}


def test_vault_down_cold(client, vault):
    vault.down = True
    response = client.get("/api/health", principal=None)
    assert response.status == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"storage": "ok", "salt": "unavailable"},
    }
    assert response.header("Retry-After") == "5"


def test_storage_down(client, vault, clock):
    dead = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://127.0.0.1:{free_port()}/{ACCOUNT};"
    )
    settings = make_settings(dead)
    storage = Storage.connect(connection_string=dead, endpoint=None, prefix=settings.table_prefix)
    install(build(settings, storage=storage, salt_source=vault.salt_source(), clock=clock))
    response = client.get("/api/health", principal=None)
    assert response.status == 503
    assert response.json()["checks"] == {"storage": "unavailable", "salt": "ok"}
    consent = client.put("/api/consent", {"status": "granted", "policy_version": "2026-04"})
    assert consent.status == 503
    assert consent.json()["error"]["code"] == "storage_unavailable"
    assert consent.header("Retry-After") == "5"
