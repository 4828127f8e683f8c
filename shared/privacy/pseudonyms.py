"""Pseudonyms: opaque integers that stand for a user, reversible only with the Key Vault salt.

Policy: "A pseudonymous user identifier (an opaque integer generated internally — not your real
user ID ...) ... cannot be used to identify you without access to Cegal's internal database."

* The salt lives in Key Vault; every value derived from it records the salt's version, so that
  after a rotation old data can still be found for erasure and export.
* Separate keys are derived per purpose, so the consent table, the event tables and the tenant
  reference share no value that could join them.
* Key Vault allows ~4,000 GETs per 10 s per vault: the salt is cached in process, and a warm cache
  keeps serving while the vault is unreachable (a cold one gives 503).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from azure.core.exceptions import AzureError, ResourceNotFoundError

from shared.kernel import telemetry
from shared.kernel.errors import VaultUnavailable
from shared.kernel.logs import log

LOG = logging.getLogger("cetegra.pseudonyms")

MIN_SALT_CHARS = 32
DEV_SALT_VERSION = "dev"
_MASK_63 = (1 << 63) - 1


@dataclass(frozen=True)
class Salt:
    """One version of the secret. The key never appears in repr or logs."""

    version: str
    key: bytes = field(repr=False)

    @cached_property
    def _keys(self) -> dict[str, bytes]:
        return {
            purpose: hmac.new(self.key, b"cetegra-analytics/v1/" + purpose.encode(), hashlib.sha256).digest()
            for purpose in (
                "event-pseudonym",
                "consent-key",
                "tenant-ref",
                "operator-ref",
                "notification-key",
            )
        }

    def derive(self, purpose: str, subject: str) -> bytes:
        return hmac.new(self._keys[purpose], subject.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Pseudonyms:
    """Everything derived for one (tenant, user) under one salt version."""

    salt_version: str
    event_pseudonym: int
    """Positive 63-bit integer, stored as Edm.Int64 with each consented event."""
    consent_key: str
    """Key of the consent record: a different derivation, so it cannot be joined to events."""
    tenant_ref: str
    """Opaque tenant reference kept with events and aggregates instead of the tenant claim."""
    audit_ref: str
    """A person in the audit table, as the actor of an audited call or the subject of an export or
    erasure: one keyed hash for both, so an auditor who computes it for a known user id (ops route
    `POST /api/ops/audit/reference`) finds them in either column; never computable without the
    vault. (Its derivation keeps the name `operator-ref`, so earlier records still resolve.)"""
    notification_key: str
    """Key of the notification seen/dismissed state and survey answers: product communication,
    not analytics, so its own derivation that joins neither events nor consent."""


def subject_of(tenant_id: str, user_id: str) -> str:
    """The one normal form of a (tenant, user) pair: whatever is kept or counted per person is
    keyed by it. Ids compare case-insensitively (Entra object and tenant ids are GUIDs, sent in
    either case), so `RL-x` and `rl-x` are one person: one pseudonym, one consent record, one
    event allowance (shared/ingestion/limits.py)."""
    return f"{tenant_id.lower()}\n{user_id.lower()}"


def derive(salt: Salt, tenant_id: str, user_id: str) -> Pseudonyms:
    subject = subject_of(tenant_id, user_id)
    number = int.from_bytes(salt.derive("event-pseudonym", subject)[:8], "big") & _MASK_63
    return Pseudonyms(
        salt_version=salt.version,
        event_pseudonym=number or 1,
        consent_key="c" + salt.derive("consent-key", subject)[:16].hex(),
        tenant_ref="t" + salt.derive("tenant-ref", tenant_id.lower())[:8].hex(),
        audit_ref="o" + salt.derive("operator-ref", subject)[:8].hex(),
        notification_key="n" + salt.derive("notification-key", subject)[:16].hex(),
    )


class SaltSource(Protocol):
    def fetch(self, version: str | None) -> Salt:
        """The given version, or the current one for None. Raises VaultUnavailable."""
        ...

    def versions(self) -> list[str]:
        """Every enabled version, newest first: data made with any of them may still exist."""
        ...


class KeyVaultSaltSource:
    """Reads the salt through the real `SecretClient` (tests swap only its HTTP transport)."""

    def __init__(self, client: Any, secret_name: str) -> None:
        self._client = client
        self._name = secret_name

    @classmethod
    def connect(cls, vault_url: str, secret_name: str, **client_kwargs: Any) -> KeyVaultSaltSource:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient

        credential = client_kwargs.pop("credential", None) or DefaultAzureCredential()
        options = {
            "retry_total": 2,
            "retry_backoff_factor": 0.2,
            "connection_timeout": 5,
            "read_timeout": 10,
            **client_kwargs,
        }
        return cls(SecretClient(vault_url=vault_url, credential=credential, **options), secret_name)

    def fetch(self, version: str | None) -> Salt:
        try:
            secret = self._client.get_secret(self._name, version)
        except ResourceNotFoundError:
            log(LOG, logging.ERROR, "salt.missing", secret=self._name, version=version)
            raise VaultUnavailable("pseudonym salt is not available") from None
        except AzureError as exc:
            log(LOG, logging.WARNING, "salt.fetch_failed", error=type(exc).__name__)
            raise VaultUnavailable("key vault is unavailable") from None
        value = secret.value or ""
        if len(value) < MIN_SALT_CHARS:
            log(LOG, logging.ERROR, "salt.too_short", secret=self._name, min_chars=MIN_SALT_CHARS)
            raise VaultUnavailable("pseudonym salt is not usable")
        return Salt(version=str(secret.properties.version), key=value.encode())

    def versions(self) -> list[str]:
        try:
            found = [p for p in self._client.list_properties_of_secret_versions(self._name) if p.enabled]
        except AzureError as exc:
            log(LOG, logging.WARNING, "salt.list_failed", error=type(exc).__name__)
            raise VaultUnavailable("key vault is unavailable") from None
        found.sort(key=lambda p: p.created_on or 0, reverse=True)
        return [str(p.version) for p in found]


class DevSaltSource:
    """Local development only: a random salt generated once into a git-ignored file.

    Settings refuse DEV_SALT_FILE when WEBSITE_SITE_NAME is set, and this class refuses again,
    so it can never stand in for Key Vault in Azure.
    """

    def __init__(self, path: Path, *, environ: dict[str, str] | None = None) -> None:
        import os

        if (environ if environ is not None else os.environ).get("WEBSITE_SITE_NAME"):
            raise RuntimeError("the dev salt is local-only and refuses to run in Azure")
        self._path = path
        log(
            LOG,
            logging.WARNING,
            "salt.dev_mode",
            warning="DEV SALT IN USE: pseudonyms are NOT protected by Key Vault; local development only",
        )

    def fetch(self, version: str | None) -> Salt:
        if version not in (None, DEV_SALT_VERSION):
            raise VaultUnavailable("unknown dev salt version")
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_text(secrets.token_hex(32))
            self._path.chmod(0o600)
        return Salt(version=DEV_SALT_VERSION, key=self._path.read_text().strip().encode())

    def versions(self) -> list[str]:
        return [DEV_SALT_VERSION]


class SaltCache:
    """Process cache in front of a SaltSource.

    The current version is re-read after `ttl` seconds so a rotation takes effect without a
    restart. If the vault fails then, the cached salt keeps serving (warm cache) and the next
    attempt waits `retry_seconds`; with nothing cached the failure surfaces as 503. Explicit
    versions are immutable in Key Vault and cached for the process lifetime.
    """

    def __init__(
        self,
        source: SaltSource,
        ttl: float,
        *,
        retry_seconds: float = 15.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._retry = min(retry_seconds, ttl)
        self._now = monotonic
        self._lock = threading.Lock()
        self._current: Salt | None = None
        self._refresh_at = 0.0
        self._versions: dict[str, Salt] = {}
        self._listed: tuple[float, list[str]] | None = None

    def refresh(self) -> None:
        """Forget the current version and the version list, so the next calls ask the vault
        (a withdrawal must reach the pseudonyms of every version other instances may use)."""
        with self._lock:
            self._refresh_at = 0.0
            if self._listed is not None:
                self._listed = (0.0, self._listed[1])

    def versions(self) -> list[str]:
        """Enabled versions, newest first; listed at most once per TTL (rotation is rare). If the
        vault fails, a list read before keeps serving (warm cache, as `current`)."""
        listed = self._listed
        if listed is None or self._now() >= listed[0]:
            try:
                fresh = self._source.versions()
            except VaultUnavailable:
                if listed is None:
                    raise
                self._listed = (self._now() + self._retry, listed[1])
                log(LOG, logging.WARNING, "salt.serving_cached_versions")
                return listed[1]
            listed = self._listed = (self._now() + self._ttl, fresh)
        return listed[1]

    def current(self) -> Salt:
        salt = self._current
        if salt is not None and self._now() < self._refresh_at:
            return salt
        with self._lock:
            if self._current is not None and self._now() < self._refresh_at:
                return self._current
            try:
                fresh = self._source.fetch(None)
            except VaultUnavailable:
                telemetry.salt_read_failed(warm=self._current is not None)
                if self._current is None:
                    raise
                self._refresh_at = self._now() + self._retry
                log(LOG, logging.WARNING, "salt.serving_cached", version=self._current.version)
                return self._current
            telemetry.salt_read_ok()
            if self._current is not None and fresh.version != self._current.version:
                log(LOG, logging.INFO, "salt.rotated", version=fresh.version)
            self._current = fresh
            self._versions[fresh.version] = fresh
            self._refresh_at = self._now() + self._ttl
            return fresh

    def version(self, version: str) -> Salt:
        cached = self._versions.get(version)
        if cached is not None:
            return cached
        salt = self._source.fetch(version)
        with self._lock:
            self._versions[version] = salt
        return salt


class Pseudonymizer:
    """Turns a principal's raw ids into pseudonyms under the current (or a named) salt."""

    def __init__(self, salts: SaltCache) -> None:
        self._salts = salts

    def current(self, tenant_id: str, user_id: str) -> Pseudonyms:
        return derive(self._salts.current(), tenant_id, user_id)

    def under(self, version: str, tenant_id: str, user_id: str) -> Pseudonyms:
        return derive(self._salts.version(version), tenant_id, user_id)

    def previous(self, current: Pseudonyms, tenant_id: str, user_id: str) -> list[Pseudonyms]:
        """The user's pseudonyms under every other enabled salt version, newest first."""
        versions = [v for v in self._salts.versions() if v != current.salt_version]
        return [self.under(version, tenant_id, user_id) for version in versions]

    def every_version(self, tenant_id: str, user_id: str) -> list[Pseudonyms]:
        """Current first, then older versions: erasure and export also find pre-rotation data."""
        current = self.current(tenant_id, user_id)
        return [current, *self.previous(current, tenant_id, user_id)]

    def refresh(self) -> None:
        """The next pseudonyms come from the vault's current version list (SaltCache.refresh)."""
        self._salts.refresh()

    def check(self) -> None:
        """Health: is a salt available? Raises VaultUnavailable; reveals nothing about it."""
        self._salts.current()
