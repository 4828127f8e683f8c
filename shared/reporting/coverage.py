"""Consent coverage: how many people were asked for analytics consent, said yes, said no.

Every absolute figure of the reports counts consenting people only ("of those who consented"), so
135 weekly users mean little without knowing whether 140 or 1,400 were asked. Coverage reads the
consent table's decisions as a tally (`CoverageStore.statuses`: counts only, no key leaves the
storage module) and publishes it through the disclosure seam (`tally`: each count 0 or at least
k, a hidden one never shown as 0).

Per tenant: the consent records are keyed by a salt-derived consent key and do not carry the
tenant, so coverage per tenant needs the decision to note its stable tenant key first (see
docs/reports.md, "Consent coverage"); until then `tenants` is empty and the page says so.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.privacy.disclosure.funnels import tally
from shared.storage.coverage import CoverageStore


class CoverageRow(BaseModel):
    tenant: str
    """`(all)` for every tenant together."""
    asked: int | None
    """People with a recorded decision (yes or no); null where hidden."""
    granted: int | None
    declined: int | None
    hidden: bool
    """True when any of the counts is hidden by the k rule."""
    granted_share: float | None
    """granted / asked, when both are shown."""


class CoverageReport(BaseModel):
    model_config = ConfigDict(title="CoverageReport")

    k: int
    rows: list[CoverageRow]
    per_tenant: bool
    """False while consent decisions do not carry their tenant: only the `(all)` row exists."""


class Coverage:
    def __init__(self, store: CoverageStore, k: int) -> None:
        self._store = store
        self._k = k

    def report(self) -> CoverageReport:
        statuses = self._store.statuses()
        shown = tally(
            {"granted": statuses.get("granted", 0), "declined": statuses.get("declined", 0)}, self._k
        )
        asked, granted, declined = shown["total"], shown["granted"], shown["declined"]
        row = CoverageRow(
            tenant="(all)",
            asked=asked,
            granted=granted,
            declined=declined,
            hidden=None in (asked, granted, declined),
            granted_share=round(granted / asked, 4) if granted is not None and asked else None,
        )
        return CoverageReport(k=self._k, rows=[row], per_tenant=False)
