"""The lifecycle seam: retention, erasure and export visit every registered holder of
pseudonymous data and nothing else, so a new family is its storage module and its holder."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from pathlib import Path

from shared.ingestion.holder import RawEvents
from shared.lifecycle.erasure import Erasure
from shared.lifecycle.retention import Retention
from shared.notifications.holder import NotificationState
from shared.privacy.consent import ConsentRecords
from shared.privacy.holders import Mode, Outcome, Subject
from shared.reporting.holder import ReportInputs
from shared.storage import Tables
from testing.principal import TENANT_ID, USER_ID

ROOT = Path(__file__).resolve().parent.parent


class Ledger:
    """A holder of a made-up family that records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def expire(self, keep_from: date) -> Outcome:
        self.calls.append(("expire", keep_from))
        return {"ledger_rows": 3}  # not a field of the result: reported by no route

    def erase(self, subject: Subject, mode: Mode) -> Outcome:
        self.calls.append(("erase", (mode, len(subject.identities))))
        return {}

    def export(self, subject: Subject) -> Outcome:
        self.calls.append(("export", len(subject.identities)))
        return {}

    def salt_versions_in_use(self, keep_from: date) -> set[str]:
        return {"ledger-version"}


def test_the_registered_holders_cover_every_pseudonymous_family_consent_first(client):
    kinds = [type(holder) for holder in client.services.holders]
    assert kinds == [ConsentRecords, RawEvents, ReportInputs, NotificationState]


def test_a_new_holder_is_visited_by_retention_erasure_and_export_without_other_changes(client):
    services = client.services
    ledger = Ledger()
    holders = (*services.holders, ledger)
    retention = Retention(holders, services.settings, services.clock, services.salts)
    erasure = Erasure(services.pseudonymizer, holders)

    result = retention.run()
    assert ledger.calls == [("expire", result.oldest_kept_day)]
    assert "ledger-version" in result.salt_versions_in_use
    versions = len(services.pseudonymizer.every_version(TENANT_ID, USER_ID))
    done = erasure.erase(USER_ID, TENANT_ID, "unlink")
    assert ledger.calls[-1] == ("erase", ("unlink", versions))
    assert set(done) == {"events_affected", "consent_deleted", "notification_rows_deleted"}
    erasure.export(USER_ID, TENANT_ID)
    assert ledger.calls[-1] == ("export", versions)


def test_lifecycle_knows_holders_not_tables():
    """shared/lifecycle/ imports no storage family and no capability: it loops over holders."""
    for path in sorted((ROOT / "shared" / "lifecycle").glob("*.py")):
        text = path.read_text()
        for word in ("shared.storage", "shared.ingestion", "shared.reporting", "shared.notifications"):
            assert word not in text, f"{path.name} names {word}"


HELD = {
    "consent": ConsentRecords,
    "events": RawEvents,
    "salt_usage": RawEvents,
    "reports": ReportInputs,
    "notifications": NotificationState,
}
"""Each table family that keeps anything keyed by a pseudonym, and the holder that expires, erases
and exports it (the notification family's cadence row lives in the user's state partition)."""

NO_PERSON = {
    "aggregates": "counts of people only (the aggregation's cells and progress)",
    "audit": "who did what, kept for accountability: keyed audit references (docs/operations.md)",
    "tenants": "the tenant directory: tenant keys and names, no person",
    "markers": "launch markers: a date, a feature and a text; who recorded one is in the audit table",
    "funnels": "released counts of people per funnel step and the build state",
    "coverage": "the consent decisions tallied by status and the released tally",
    "status": "one row: whether the demo seeding runs",
}
"""Every other family, and why it holds nothing a person could ask to have erased or exported."""


def test_every_table_family_is_held_or_names_no_person(client):
    """A new family in `Tables` fails here until it is given a holder (registered in
    shared/services.py) or a reason it keeps no pseudonymous data."""
    families = {field.name for field in fields(Tables)}
    assert set(HELD).isdisjoint(NO_PERSON)
    assert families == set(HELD) | set(NO_PERSON)
    registered = {type(holder) for holder in client.services.holders}
    assert set(HELD.values()) <= registered
