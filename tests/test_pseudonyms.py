"""Pseudonyms through the real SecretClient: derivation, caching, rotation, vault outages."""

from __future__ import annotations

import pytest

from shared.kernel.errors import VaultUnavailable
from shared.privacy.pseudonyms import DevSaltSource, Pseudonymizer, Salt, SaltCache, derive
from testing.client import POLICY

GRANT = {"status": "granted", "policy_version": POLICY}


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pseudonym_is_positive_63_bit_and_stable():
    salt = Salt("v1", b"k" * 32)
    first = derive(salt, "Tenant", "User")
    assert 0 < first.event_pseudonym < 2**63
    assert derive(salt, "tenant", "user") == first  # claim GUIDs compare case-insensitively
    assert derive(salt, "tenant", "other").event_pseudonym != first.event_pseudonym


def test_purposes_share_no_value():
    p = derive(Salt("v1", b"k" * 32), "tenant", "user")
    values = {
        str(p.event_pseudonym),
        f"{p.event_pseudonym:x}",
        p.consent_key[1:],
        p.tenant_ref[1:],
        p.notification_key[1:],
        p.audit_ref[1:],
    }
    assert len(values) == 6
    assert f"{p.event_pseudonym:016x}" not in p.consent_key
    for other in (p.consent_key[1:], p.tenant_ref[1:], p.audit_ref[1:], f"{p.event_pseudonym:016x}"):
        assert other[:16] not in p.notification_key  # no shared prefix to join the tables on


def test_salt_version_changes_everything():
    a = derive(Salt("v1", b"a" * 32), "tenant", "user")
    b = derive(Salt("v2", b"b" * 32), "tenant", "user")
    assert (a.event_pseudonym, a.consent_key, a.tenant_ref) != (
        b.event_pseudonym,
        b.consent_key,
        b.tenant_ref,
    )
    assert a.salt_version == "v1" and b.salt_version == "v2"


def test_secret_client_path_challenge_then_cached(vault):
    from azure.keyvault.secrets._shared import http_challenge_cache

    http_challenge_cache.clear()  # the SDK remembers challenges per vault for the process
    source = vault.salt_source()
    cache = SaltCache(source, ttl=300)
    salt = cache.current()
    assert salt.version == vault.latest
    assert vault.unauthenticated == 1  # the SDK's challenge round trip really ran
    for _ in range(50):
        cache.current()
    assert vault.secret_gets == 1


def test_rotation_is_picked_up_after_ttl_and_old_versions_stay_readable(vault):
    ticks = Ticks()
    cache = SaltCache(vault.salt_source(), ttl=60, monotonic=ticks)
    old = cache.current()
    new_version = vault.rotate()
    ticks.now += 30
    assert cache.current().version == old.version
    ticks.now += 31
    assert cache.current().version == new_version
    assert cache.version(old.version).key == old.key


def test_refresh_asks_the_vault_at_once_and_a_warm_list_survives_an_outage(vault):
    """A withdrawal refreshes the salt cache so it reaches a version rotated in a moment ago; with
    the vault down the versions listed before keep serving."""
    ticks = Ticks()
    cache = SaltCache(vault.salt_source(), ttl=60, monotonic=ticks)
    old = cache.current()
    assert cache.versions() == [old.version]
    new_version = vault.rotate()
    assert cache.current().version == old.version  # within the TTL
    cache.refresh()
    assert cache.current().version == new_version
    assert cache.versions() == [new_version, old.version]
    vault.down = True
    cache.refresh()
    assert cache.versions() == [new_version, old.version]
    assert cache.current().version == new_version


def test_a_withdrawal_works_with_the_vault_down_on_a_warm_cache(client, vault):
    assert client.put("/api/consent", GRANT).status == 200
    client.services.salts.versions()
    vault.down = True
    response = client.put("/api/consent", {**GRANT, "status": "declined"})
    assert response.status == 200 and response.json()["status"] == "declined"


def test_warm_cache_survives_vault_outage(client, vault):
    assert client.put("/api/consent", GRANT).status == 200  # warms the cache
    vault.down = True
    client.services.salts._refresh_at = 0  # the TTL has run out while the vault is down
    response = client.get("/api/consent")
    assert response.status == 200
    assert response.json()["status"] == "granted"


def test_cold_cache_with_vault_down_is_503_and_stores_nothing(client, vault):
    vault.down = True
    response = client.put("/api/consent", GRANT)
    assert response.status == 503
    assert response.json()["error"]["code"] == "key_vault_unavailable"
    assert response.header("Retry-After") == "5"
    assert client.entity_count() == 0
    vault.down = False
    assert client.put("/api/consent", GRANT).status == 200


def test_missing_secret_is_503_not_500(client, vault):
    vault.latest = None
    response = client.get("/api/consent")
    assert response.status == 503
    assert "value" not in response.body.decode()


def test_short_secret_is_refused(vault):
    vault.rotate("too-short")
    with pytest.raises(VaultUnavailable):
        SaltCache(vault.salt_source(), ttl=60).current()


def test_dev_salt_is_generated_once_and_reused(tmp_path):
    path = tmp_path / "nested" / "dev-salt"
    first = Pseudonymizer(SaltCache(DevSaltSource(path, environ={}), ttl=60)).current("t", "u")
    second = Pseudonymizer(SaltCache(DevSaltSource(path, environ={}), ttl=60)).current("t", "u")
    assert first == second
    assert path.stat().st_mode & 0o777 == 0o600


def test_dev_salt_refuses_to_run_in_azure(tmp_path):
    with pytest.raises(RuntimeError, match="refuses to run in Azure"):
        DevSaltSource(tmp_path / "salt", environ={"WEBSITE_SITE_NAME": "cetegra-analytics"})


def test_dev_salt_is_logged_loudly(tmp_path, logs):
    DevSaltSource(tmp_path / "salt", environ={})
    assert any("DEV SALT IN USE" in record.getMessage() for record in logs.records)
