"""Consent coverage: how many people were asked for analytics consent, said yes, said no.

Every absolute figure of the reports counts consenting people only ("of those who consented"), so
135 weekly users mean little without knowing whether 140 or 1,400 were asked. Coverage reads the
consent table's decisions as a tally (`CoverageStore.statuses`: counts only, no key leaves the
storage module) and publishes it as a differentially private release through the disclosure seam
(docs/privacy-model.md): once per calendar month, at the first read of the month, the numbers of
people who said yes and no are drawn with the `COVERAGE` family (a person is in one of them) and
stored; every later read of the month returns the stored release ("as of" its time). `asked` is
their sum (post-processing); a count under the threshold is hidden, never 0.

Per tenant: the consent records are keyed by a salt-derived consent key and do not carry the
tenant, so coverage per tenant needs the decision to note its stable tenant key first (see
docs/reports.md, "Consent coverage"); until then `tenants` is empty and the page says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from shared.kernel.periods import month_key
from shared.privacy.disclosure.releases import COVERAGE, Released, Releaser
from shared.storage.coverage import CoverageStore

_ALL_LEVEL = COVERAGE[3]
"""Coverage is released for all tenants together (the `(all)` level of the family)."""


class CoverageRow(BaseModel):
    tenant: str
    """`(all)` for every tenant together."""
    asked: int | None
    """People with a recorded decision (yes or no); null where hidden."""
    granted: int | None
    declined: int | None
    hidden: bool
    """True when any of the counts is hidden (too small to show after noise)."""
    granted_share: float | None
    """granted / asked, when both are shown."""
    moe: dict[str, float] = {}
    """95 % margins of error of the shown counts."""


class CoverageReport(BaseModel):
    model_config = ConfigDict(title="CoverageReport")

    k: int
    as_of: datetime | None = None
    """When this month's release was drawn (coverage is released once per calendar month)."""
    rows: list[CoverageRow]
    per_tenant: bool
    """False while consent decisions do not carry their tenant: only the `(all)` row exists."""


class Coverage:
    def __init__(self, store: CoverageStore, releaser: Releaser, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._releaser = releaser
        self._clock = clock

    def _released(self) -> tuple[str, dict[str, int]]:
        """This month's release, drawn and stored at the month's first read (data-independent
        timing: one release per month, as the budget counts it)."""
        now = self._clock()
        month = month_key(now.date())
        stored = self._store.release(month)
        if stored is not None:
            return stored
        statuses = self._store.statuses()
        exact = {"granted": statuses.get("granted", 0), "declined": statuses.get("declined", 0)}
        noisy = self._releaser.raw(_ALL_LEVEL, exact)
        if not self._store.save_release(month, now.isoformat(), noisy):
            stored = self._store.release(month)
            assert stored is not None
            return stored
        return now.isoformat(), noisy

    def report(self) -> CoverageReport:
        drawn_at, noisy = self._released()
        granted = self._shown(noisy["granted"], 1)
        declined = self._shown(noisy["declined"], 1)
        asked = self._shown(noisy["granted"] + noisy["declined"], 2)
        values = {"asked": asked, "granted": granted, "declined": declined}
        row = CoverageRow(
            tenant="(all)",
            asked=asked.value,
            granted=granted.value,
            declined=declined.value,
            hidden=any(v.hidden for v in values.values()),
            granted_share=round(min(1.0, granted.value / asked.value), 4)
            if granted.value is not None and asked.value
            else None,
            moe={name: v.moe for name, v in values.items() if not v.hidden and v.moe},
        )
        return CoverageReport(
            k=self._releaser.k,
            as_of=datetime.fromisoformat(drawn_at),
            rows=[row],
            per_tenant=False,
        )

    def _shown(self, noisy: int, parts: int) -> Released:
        """A released count (or a sum of `parts` of them) as shown: hidden under the threshold."""
        return self._releaser.shown(_ALL_LEVEL, noisy, parts=parts)
