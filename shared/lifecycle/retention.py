"""Retention: raw analytics data is kept "for a maximum of 24 months in raw form" (cookie policy §4).

A run on day T keeps from T - RETENTION_MONTHS + 1 day and asks every holder of pseudonymous
data (shared/privacy/holders.py, registered in shared/services.py) to expire what is older or done
with: the raw-event days (one operation per table, whatever they hold) and the consent markers of
days that take no more events, the reports' user-day rollup and first-seen index, notification
state and survey answers. Run daily just after midnight UTC, no raw event outlives 24 months by
more than the minutes until that run. Aggregates and audit data hold no pseudonym and are never
touched here. Re-running, or resuming after a crash, simply deletes what is still there.

Then it reports the salt versions that still have data (erasure and export need them readable)
and those ops may disable in Key Vault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from shared.kernel import telemetry
from shared.kernel.errors import VaultUnavailable
from shared.kernel.logs import log
from shared.kernel.periods import oldest_kept_day
from shared.kernel.settings import Settings
from shared.privacy.holders import Holder, Outcome
from shared.privacy.pseudonyms import SaltCache

LOG = logging.getLogger("cetegra.retention")


class RetentionResult(BaseModel):
    model_config = ConfigDict(title="RetentionResult")

    oldest_kept_day: date
    removed_days: list[date]
    removed_periods: int
    storage_operations: int
    """Table-service calls for the expiry itself: one listing plus one delete per table of each
    removed day (eight per day; nine for a day of the earlier one-table layout)."""
    salt_versions_in_use: list[str]
    """Salt versions that made raw data, notification state or survey answers still kept (erasure
    and export need them readable)."""
    salt_versions_may_disable: list[str] | None
    """Enabled, non-current versions with no data left: ops may disable them in Key Vault (any
    leftover is then anonymous). None when Key Vault could not be asked; expiry ran regardless."""
    notification_rows_removed: int = 0
    """Notification state of items archived or ended 30+ days ago, and state and survey answers
    older than the retention period (docs/notifications.md)."""
    consent_markers_removed: int = 0
    """Consent markers removed from days that can take no more events (shared/storage/events.py):
    they only guard writes, and an erased user's marker must not stay longer than that."""


class Retention:
    def __init__(
        self,
        holders: Sequence[Holder],
        settings: Settings,
        clock: Callable[[], datetime],
        salts: SaltCache | None = None,
    ) -> None:
        self._holders = tuple(holders)
        self._months = settings.retention_months
        self._clock = clock
        self._salts = salts

    @telemetry.job("retention")
    def run(self) -> RetentionResult:
        keep_from = oldest_kept_day(self._clock().date(), self._months)
        done: Outcome = {}
        for holder in self._holders:
            done |= holder.expire(keep_from)
        in_use, may_disable = self._salt_versions(keep_from)
        log(
            LOG,
            logging.INFO,
            "retention.run",
            oldest_kept_day=keep_from.isoformat(),
            oldest_raw_day=done.get("oldest_raw_day"),
            removed_periods=done.get("removed_periods", 0),
            kept_periods=done.get("kept_periods", 0),
            salt_versions_in_use=len(in_use),
            salt_versions_may_disable=None if may_disable is None else len(may_disable),
        )
        reported: Outcome = {"removed_days": [], "removed_periods": 0, "storage_operations": 0}
        reported |= {name: value for name, value in done.items() if name in RetentionResult.model_fields}
        return RetentionResult(
            oldest_kept_day=keep_from,
            salt_versions_in_use=in_use,
            salt_versions_may_disable=may_disable,
            **reported,
        )

    def _salt_versions(self, keep_from: date) -> tuple[list[str], list[str] | None]:
        in_use = sorted(set().union(*(holder.salt_versions_in_use(keep_from) for holder in self._holders)))
        if self._salts is None:
            return in_use, None
        try:
            current = self._salts.current().version
            enabled = self._salts.versions()
        except VaultUnavailable:
            return in_use, None
        return in_use, [v for v in enabled if v != current and v not in in_use]
