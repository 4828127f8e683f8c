"""Tenants: a stable key per customer tenant, and the ops-held directory of display names.

The policy discloses that the tenant (a company identifier) is collected, and that analytics serve
"to understand how Cetegra Workspace is used", which product teams do per customer over time
(onboarding, feature launches). Events carry a *tenant reference* derived from the rotating
pseudonym salt, so a rotation would cut every tenant's time series in two. Reports therefore use
a **stable tenant key**:

* a random 64-bit value (`k` + 16 hex digits), minted the first time a tenant is seen: it is not
  derived from the tenant id at all, so it cannot be guessed or recomputed from outside, and no
  extra secret has to be kept (or could leak) for it;
* linked to the tenant's reference under *every enabled salt version* (`ref → key` rows): when
  the salt rotates, the first request under the new salt finds the tenant's old reference (the
  old version stays enabled while raw data made with it exists) and adopts its key;
* migration: references already in the raw data are linked when their tenant is next seen, or
  when ops name the tenant in the directory; the aggregation mints a key for any reference still
  unknown, so nothing is ever dropped from the reports.

The directory (`PUT /api/ops/tenants/{tenant_id}`, operator role, audited) maps a tenant id to a
company display name; the raw tenant id itself is never stored: only its key and references.
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.logs import log
from shared.privacy.pseudonyms import Pseudonymizer, Pseudonyms
from shared.storage.tenants import TenantEntry, TenantStore

LOG = logging.getLogger("cetegra.tenants")
KEY_PATTERN = r"^k[0-9a-f]{16}$"


def new_key() -> str:
    return "k" + secrets.token_hex(8)


class TenantName(BaseModel):
    """Body of `PUT /api/ops/tenants/{tenant_id}`."""

    model_config = ConfigDict(extra="forbid", strict=True, title="TenantName")

    name: str = Field(min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")
    """The company's display name as reports should show it."""


class TenantNamed(BaseModel):
    model_config = ConfigDict(title="TenantNamed")

    tenant: str
    """The stable tenant key (never the raw tenant id)."""
    name: str


class Tenants:
    def __init__(self, store: TenantStore, pseudonymizer: Pseudonymizer) -> None:
        self._store = store
        self._pseudonymizer = pseudonymizer
        self._known: dict[str, str] = {}
        self._lock = threading.Lock()

    def note(self, tenant_id: str, current: Pseudonyms) -> str:
        """The stable key of the caller's tenant; links its current reference on first sight.

        Called on ingestion: one dict lookup per request once a process has seen the tenant."""
        key = self._known.get(current.tenant_ref)
        if key is not None:
            return key
        key = self._store.tenant_of_ref(current.tenant_ref)
        if key is None:
            key = self._link(tenant_id, current)
        with self._lock:
            self._known[current.tenant_ref] = key
        return key

    def _link(self, tenant_id: str, current: Pseudonyms) -> str:
        """Adopt the key of any older reference of the tenant, else mint one; link all references."""
        older = self._pseudonymizer.previous(current, tenant_id, "")
        refs = [(current.tenant_ref, current.salt_version), *((p.tenant_ref, p.salt_version) for p in older)]
        found = [k for ref, _ in refs[1:] if (k := self._store.tenant_of_ref(ref)) is not None]
        key = found[0] if found else new_key()
        self._store.link_refs(refs, key)
        log(LOG, logging.INFO, "tenants.linked", references=len(refs), adopted=bool(found))
        return key

    def key_of(self, tenant_id: str) -> str | None:
        """The key of a tenant id, if it was ever seen (ops: erasure, export, directory)."""
        for pseudonyms in self._pseudonymizer.every_version(tenant_id, ""):
            key = self._store.tenant_of_ref(pseudonyms.tenant_ref)
            if key is not None:
                return key
        return None

    def name(self, tenant_id: str, body: TenantName) -> TenantNamed:
        """Directory entry: the tenant id never leaves this call; only its key is stored."""
        current = self._pseudonymizer.current(tenant_id, "")
        key = self._store.tenant_of_ref(current.tenant_ref) or self._link(tenant_id, current)
        existing = self._store.tenant(key)
        self._store.save_tenant(
            TenantEntry(key=key, name=body.name, first_seen=existing.first_seen if existing else None)
        )
        with self._lock:
            self._known[current.tenant_ref] = key
        log(LOG, logging.INFO, "tenants.named")
        return TenantNamed(tenant=key, name=body.name)

    def resolve_refs(self, refs: set[str]) -> dict[str, str]:
        """Key of every reference (aggregation): known links, else a key minted for the reference.

        A reference no request has linked yet is pre-migration data of a tenant not seen since;
        it gets its own key now, which the tenant's next request adopts (see `_link`). The links
        are read once per process and again only when an unknown reference turns up."""
        if refs - self._known.keys():
            with self._lock:
                self._known.update(self._store.ref_map())
        for ref in sorted(refs - self._known.keys()):
            key = new_key()
            self._store.link_refs([(ref, "")], key)
            with self._lock:
                self._known[ref] = key
        return {ref: self._known[ref] for ref in refs}

    def directory_keys(self) -> tuple[str, ...]:
        """Every tenant key of the directory: the tenant part of a release's key domain
        (docs/privacy-model.md, "A fixed key domain"), sorted."""
        return tuple(sorted(entry.key for entry in self._store.tenants()))

    def saw(self, first_days: dict[str, date]) -> None:
        """Keep each key's earliest day with data (the directory's `first_seen`): one read of the
        directory, a write only for keys whose first day moves earlier."""
        if not first_days:
            return
        entries = {entry.key: entry for entry in self._store.tenants()}
        for key, day in sorted(first_days.items()):
            entry = entries.get(key)
            if entry is None or entry.first_seen is None or day < entry.first_seen:
                self._store.save_tenant(
                    TenantEntry(key=key, name=entry.name if entry else None, first_seen=day)
                )
