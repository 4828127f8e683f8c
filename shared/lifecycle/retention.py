"""Retention: raw analytics data is kept "for a maximum of 24 months in raw form" (cookie policy §4).

Raw events live in one table per UTC day, so expiry deletes whole days: one operation per
expired day, whatever it holds. A run on day T removes every day ≤ T - RETENTION_MONTHS, so the
oldest kept day is T - RETENTION_MONTHS + 1 day. Run daily just after midnight UTC, no raw event
outlives 24 months by more than the minutes until that run. Consent records, aggregates and audit
data are other tables and are never touched here. The same run expires notification state and
survey answers (shared/notifications/service.py: `Notifications.expire`), and the reports' raw-class data
(the user-day rollup and the first-seen index, shared/reporting/reports.py), which is pseudonymous and
expires with the raw days. Re-running, or resuming after a crash, simply deletes what is still there.
It also removes the consent markers of days that can take no more events (`_seal`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from shared.kernel import telemetry
from shared.kernel.errors import VaultUnavailable
from shared.kernel.logs import log
from shared.kernel.periods import oldest_kept_day, writable_days
from shared.kernel.settings import Settings
from shared.privacy.pseudonyms import SaltCache
from shared.reporting.reports import ReportBuilder
from shared.storage.events import EventStore
from shared.storage.reports import ReportsStore
from shared.storage.salt_usage import SaltUsageStore

if TYPE_CHECKING:
    from shared.notifications.service import Notifications

LOG = logging.getLogger("cetegra.retention")
SEAL_DAYS = 3
"""Days before the writable window whose consent markers each run removes (three nights' slack)."""


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
        events: EventStore,
        salt_usage: SaltUsageStore,
        settings: Settings,
        clock: Callable[[], datetime],
        salts: SaltCache | None = None,
        notifications: Notifications | None = None,
        reports: ReportsStore | None = None,
    ) -> None:
        self._events = events
        self._salt_usage = salt_usage
        self._reports = None if reports is None else ReportBuilder(reports, settings.aggregate_min_users)
        self._months = settings.retention_months
        self._max_age = timedelta(hours=settings.event_max_age_hours)
        self._max_ahead = timedelta(seconds=settings.event_max_future_seconds)
        self._clock = clock
        self._salts = salts
        self._notifications = notifications

    @telemetry.job("retention")
    def run(self) -> RetentionResult:
        today = self._clock().date()
        keep_from = oldest_kept_day(today, self._months)
        # Create today's and tomorrow's tables ahead, so no request meets a missing table.
        for day in (today, today + timedelta(days=1)):
            self._events.ensure_day(day)
        days = self._events.days()
        expired = [day for day in days if day < keep_from]
        operations = 1  # the listing
        for day in expired:
            operations += self._events.delete_day(day)
            log(LOG, logging.INFO, "retention.removed_day", day=day.isoformat())
        markers = self._seal(days)
        notification_rows = self._notifications.expire() if self._notifications is not None else 0
        if self._reports is not None:  # the raw-class report data expires with the raw days
            rollup_days, forgotten = self._reports.expire(keep_from)
            log(LOG, logging.INFO, "retention.reports", rollup_days=rollup_days, users_forgotten=forgotten)
        in_use, may_disable = self._salt_versions(keep_from)
        oldest = telemetry.retention_outcome(today, keep_from, days, removed=len(expired))
        log(
            LOG,
            logging.INFO,
            "retention.run",
            oldest_kept_day=keep_from.isoformat(),
            oldest_raw_day=None if oldest is None else oldest.isoformat(),
            removed_periods=len(expired),
            kept_periods=len(days) - len(expired),
            salt_versions_in_use=len(in_use),
            salt_versions_may_disable=None if may_disable is None else len(may_disable),
        )
        return RetentionResult(
            oldest_kept_day=keep_from,
            removed_days=expired,
            removed_periods=len(expired),
            storage_operations=operations,
            salt_versions_in_use=in_use,
            salt_versions_may_disable=may_disable,
            notification_rows_removed=notification_rows,
            consent_markers_removed=markers,
        )

    def _seal(self, days: list[date]) -> int:
        """Remove the consent markers of the last SEAL_DAYS days before the first day that may
        still take events (a missed night is caught up the next)."""
        first = writable_days(self._clock(), self._max_age, self._max_ahead)[0]
        sealed = [day for day in days if first - timedelta(days=SEAL_DAYS) <= day < first]
        removed = sum(self._events.seal(day) for day in sealed)
        if removed:
            log(LOG, logging.INFO, "retention.markers_removed", days=len(sealed), rows=removed)
        return removed

    def _salt_versions(self, keep_from: date) -> tuple[list[str], list[str] | None]:
        usage = self._salt_usage.all()
        telemetry.salt_usage(usage, self._clock().date(), keep_from)
        self._salt_usage.forget([use for use in usage if use.day < keep_from])
        in_use = sorted(
            {version for day, version in usage if day >= keep_from}
            | (self._notifications.salt_versions_in_use() if self._notifications is not None else set())
        )
        if self._salts is None:
            return in_use, None
        try:
            current = self._salts.current().version
            enabled = self._salts.versions()
        except VaultUnavailable:
            return in_use, None
        return in_use, [v for v in enabled if v != current and v not in in_use]
