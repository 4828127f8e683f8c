"""The lifecycle seam: every family that keeps pseudonymous data is a `Holder`.

The cookie policy keeps raw analytics data "for a maximum of 24 months in raw form" and gives
every user the rights to have their data erased and to see it. Each family that keeps anything
keyed by a pseudonym (consent records, raw events and their consent markers, the reports'
user-day rollups and first-seen index, notification state and survey answers) implements these
four verbs for its own tables; `shared/lifecycle/` (retention, erasure, export) loops over the
holders that the composition root (`shared/services.py`) registers, in that order. A new family
is its storage module and its holder, registered there: nothing else changes.

The protocol lives here, below the capabilities, so that each capability implements it without
importing the lifecycle that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from shared.privacy.pseudonyms import Pseudonyms

Mode = Literal["delete", "unlink"]
"""Erasure: `delete` removes the raw events; `unlink` keeps them without the pseudonym."""

Outcome = dict[str, Any]
"""What a holder reports of one expiry, erasure or export: fields of the ops route's result
(`RetentionResult`, `ErasureResult`, `ExportResult`), each named by exactly one holder."""


@dataclass(frozen=True)
class Subject:
    """One person as every family keys them: their pseudonyms under every enabled salt version
    (workers may still write under an older one), and the raw ids, which only the holders that
    derive a key on the spot read (the tenant's stable key) and nothing stores."""

    user_id: str = field(repr=False)
    tenant_id: str = field(repr=False)
    identities: tuple[Pseudonyms, ...] = field(repr=False)


class Holder(Protocol):
    """A family of pseudonymous data, as retention, erasure and export see it."""

    def expire(self, keep_from: date) -> Outcome:
        """Remove what is older than `keep_from` (the 24-month horizon) or otherwise done with."""
        ...

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        """Remove (or, for raw events in `unlink` mode, unlink) everything kept of `subject`."""
        ...

    def export(self, subject: Subject) -> Outcome:
        """Everything kept of `subject`, as stored."""
        ...

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        """Salt versions whose pseudonyms this family still keeps data under (from `keep_from`):
        those must stay readable for erasure and export."""
        ...
