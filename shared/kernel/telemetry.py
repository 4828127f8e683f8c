"""Counters and gauges for the on-call view: OpenTelemetry metrics, in Application Insights as
`customMetrics` (name = the metric name below, `customDimensions` = its dimensions).

The texts make promises only operations can keep: raw data is gone "after 24 months", withdrawal
"stops all future collection immediately", and the vault's salt protects every pseudonym. The
metrics below are how the workbook and the alerts in infra/ watch them. Every metric and its
dimensions are declared in METRICS, which tests/test_telemetry_queries.py holds the KQL in
infra/queries to, so a rename cannot silently break a chart or an alert.

Counts only, never people: no dimension may carry a user, tenant, page, session, IP or user agent
(`shared.kernel.logs.refused` guards the names, DIMENSION_VALUE the free-text values).

Until `activate()` (tests) or `configure_for_azure()` (function_app.py, in Azure only) every call
is a no-op, and OpenTelemetry is not even imported: tests, `make run` and the cold start stay
offline and cheap.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, ParamSpec, TypeVar

from shared.kernel.errors import AnalyticsError, StorageUnavailable, VaultUnavailable
from shared.kernel.logs import log, refused

LOG = logging.getLogger("cetegra.telemetry")

Kind = Literal["counter", "gauge", "histogram"]
DIMENSION_VALUE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
"""Free-valued dimensions (error codes, salt versions, HTTP statuses) must look like identifiers of
the system, never like request content; anything else is reported as `other`."""

# Drop reasons (events.dropped, `reason`): why received events, or a part of them, were not kept.
DROP_CONSENT = "consent"
"""Declined or unset consent under DECLINED_MODE=drop: "no usage data is collected"."""
DROP_UNLISTED_PAGE = "unlisted_page"
"""A page outside the published page catalogue: the event is kept, its page only as `(unlisted)`."""
DROP_UNLISTED_APP = "unlisted_app"
"""An app outside the published app catalogue: the event is kept, its app only as `(unlisted)`."""
DROP_LIMIT = "limit"
"""Over a per-user or per-batch limit."""
DROP_REASONS = (DROP_CONSENT, DROP_UNLISTED_PAGE, DROP_UNLISTED_APP, DROP_LIMIT)

CONSENT_STATUSES = ("granted", "declined", "unset")
JOBS = ("retention", "aggregation")
OUTCOMES = ("succeeded", "failed")
DEPENDENCIES = ("storage", "vault", "other")
SALT_STATES = ("current", "previous")
SALT_READ_OUTCOMES = ("ok", "served_cached", "failed")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    unit: str
    description: str
    dimensions: Mapping[str, tuple[str, ...] | None] = field(default_factory=dict)
    """Dimension → its allowed values (None: any value matching DIMENSION_VALUE)."""


METRICS: dict[str, Metric] = {}


def _metric(
    name: str, kind: Kind, unit: str, description: str, **dimensions: tuple[str, ...] | None
) -> Metric:
    leaked = [key for key in dimensions if refused(key)]
    if leaked or name in METRICS:
        raise ValueError(f"metric {name}: refused or duplicate: {leaked}")
    metric = METRICS[name] = Metric(name, kind, unit, description, dimensions)
    return metric


EVENTS_ACCEPTED = _metric(
    "cetegra.events.accepted",
    "counter",
    "{event}",
    "Events stored, by the consent they were stored under and the salt version of their pseudonyms",
    consent=CONSENT_STATUSES,
    salt_version=None,
)
EVENTS_DROPPED = _metric(
    "cetegra.events.dropped", "counter", "{event}", "Events received but not stored", reason=DROP_REASONS
)
CONSENT_DECISIONS = _metric(
    "cetegra.consent.decisions",
    "counter",
    "{decision}",
    "Consent decisions stored (counts only: never who)",
    status=("granted", "declined"),
    previous=CONSENT_STATUSES,
)
HTTP_ERRORS = _metric(
    "cetegra.http.errors", "counter", "{response}", "Error responses by code", code=None, status=None
)
UNAVAILABLE = _metric(
    "cetegra.http.unavailable",
    "counter",
    "{response}",
    "503 responses by the dependency that failed",
    dependency=DEPENDENCIES,
)
JOB_RUNS = _metric(
    "cetegra.job.runs", "counter", "{run}", "Retention and aggregation runs", job=JOBS, outcome=OUTCOMES
)
JOB_DURATION = _metric(
    "cetegra.job.duration", "histogram", "ms", "Run time of a job", job=JOBS, outcome=OUTCOMES
)
RETENTION_REMOVED = _metric(
    "cetegra.retention.periods_removed", "counter", "{day}", "Raw-event days deleted at the 24-month line"
)
OLDEST_RAW_DAY_AGE = _metric(
    "cetegra.retention.oldest_raw_day_age",
    "gauge",
    "d",
    "Age in days of the oldest raw-event day still stored after a retention run",
)
AGGREGATION_DAYS = _metric(
    "cetegra.aggregation.days_built", "counter", "{day}", "Daily aggregates built or rebuilt"
)
AGGREGATION_CELLS = _metric(
    "cetegra.aggregation.cells_written", "counter", "{cell}", "Aggregate cells written (each >= k people)"
)
AGGREGATION_SUPPRESSED = _metric(
    "cetegra.aggregation.events_suppressed",
    "counter",
    "{event}",
    "Events in cells under k people that no kept cell could absorb",
)
SALT_VERSION_AGE = _metric(
    "cetegra.salt.version_age",
    "gauge",
    "d",
    "Days since a salt version was first used; `current` is the one ingestion uses now",
    salt_version=None,
    state=SALT_STATES,
)
SALT_VERSIONS_IN_USE = _metric(
    "cetegra.salt.versions_in_use", "gauge", "{version}", "Salt versions that made raw data still kept"
)
SALT_READS = _metric(
    "cetegra.keyvault.salt_reads",
    "counter",
    "{read}",
    "Reads of the current salt from Key Vault, by outcome (served_cached: vault failed, warm cache)",
    outcome=SALT_READ_OUTCOMES,
)

_instruments: dict[str, Any] | None = None
_provider: Any = None


def activate(meter_provider: Any) -> None:
    """Create every instrument from `meter_provider` (an SDK MeterProvider): metrics flow from now."""
    global _instruments, _provider
    meter = meter_provider.get_meter("cetegra.analytics")
    create = {
        "counter": meter.create_counter,
        "gauge": meter.create_gauge,
        "histogram": meter.create_histogram,
    }
    _instruments = {
        m.name: create[m.kind](m.name, unit=m.unit, description=m.description) for m in METRICS.values()
    }
    _provider = meter_provider


def deactivate() -> None:
    """Back to no-op (tests)."""
    global _instruments, _provider
    _instruments = _provider = None


def active() -> bool:
    return _instruments is not None


def count(metric: Metric, value: int = 1, **dimensions: str) -> None:
    """Add to a counter, e.g. count(EVENTS_DROPPED, 3, reason=DROP_CONSENT)."""
    _record(metric, "counter", value, dimensions)


def gauge(metric: Metric, value: float, **dimensions: str) -> None:
    _record(metric, "gauge", value, dimensions)


def _record(metric: Metric, kind: Kind, value: float, dimensions: dict[str, str]) -> None:
    if metric.kind != kind:
        raise TypeError(f"{metric.name} is a {metric.kind}")
    attributes = _attributes(metric, dimensions)
    instruments = _instruments
    if instruments is None:
        return
    instrument = instruments[metric.name]
    if kind == "counter":
        instrument.add(value, attributes)
    elif kind == "gauge":
        instrument.set(value, attributes)
    else:
        instrument.record(value, attributes)


def _attributes(metric: Metric, dimensions: dict[str, str]) -> dict[str, str]:
    """Checked even when inactive, so a wrong name or value fails in tests, not in Azure."""
    if set(dimensions) != set(metric.dimensions):
        raise ValueError(
            f"{metric.name} takes dimensions {sorted(metric.dimensions)}, got {sorted(dimensions)}"
        )
    for key, value in dimensions.items():
        allowed = metric.dimensions[key]
        if allowed is not None and value not in allowed:
            raise ValueError(f"{metric.name}: {key}={value!r} is not one of {allowed}")
    return {
        key: value if metric.dimensions[key] is not None or DIMENSION_VALUE.match(value) else "other"
        for key, value in dimensions.items()
    }


# ---- call-site helpers: one line at each place that knows an outcome -----------------------------


def error(exc: AnalyticsError) -> None:
    """Every error response the API renders (functions/edge.py error_response)."""
    count(HTTP_ERRORS, code=exc.code, status=str(exc.status))
    if exc.status == 503:
        dependency = (
            "storage"
            if isinstance(exc, StorageUnavailable)
            else "vault"
            if isinstance(exc, VaultUnavailable)
            else "other"
        )
        count(UNAVAILABLE, dependency=dependency)


def retention_outcome(today: date, keep_from: date, days: Iterable[date], removed: int) -> date | None:
    """After the expiry: what was removed; returns the oldest raw day still stored (for the
    `retention.run` event, which the 24-month alert reads: a gauge repeats its last value)."""
    count(RETENTION_REMOVED, removed)
    oldest = min((day for day in days if day >= keep_from), default=None)
    if oldest is not None:
        gauge(OLDEST_RAW_DAY_AGE, (today - oldest).days)
    return oldest


def salt_usage(usage: Iterable[tuple[date, str]], today: date, keep_from: date) -> None:
    """Salt versions that made raw data still kept, and each one's age since its first use.

    The version used on the latest day is `current`: the rotation alert compares its age with the
    rotation policy. Ages are measured from the `saltusage` table, which keeps 24 months.
    """
    first: dict[str, date] = {}
    last: dict[str, date] = {}
    for day, version in usage:
        first[version] = min(first.get(version, day), day)
        last[version] = max(last.get(version, day), day)
    latest = max(last.values(), default=None)
    gauge(SALT_VERSIONS_IN_USE, sum(1 for version in last if last[version] >= keep_from))
    for version, since in first.items():
        if last[version] >= keep_from:
            state = "current" if last[version] == latest else "previous"
            age = (today - since).days
            gauge(SALT_VERSION_AGE, age, salt_version=version, state=state)
            log(
                LOG,
                logging.INFO,
                "salt.version_in_use",
                salt_version=version,
                state=state,
                first_used=since.isoformat(),
                age_days=age,
            )


def salt_read_ok() -> None:
    count(SALT_READS, outcome="ok")


def salt_read_failed(*, warm: bool) -> None:
    """Key Vault failed: a warm cache keeps serving (ingestion goes on), a cold one means 503."""
    count(SALT_READS, outcome="served_cached" if warm else "failed")


def aggregation_outcome(days: int, cells: int, suppressed: int) -> None:
    count(AGGREGATION_DAYS, days)
    count(AGGREGATION_CELLS, cells)
    count(AGGREGATION_SUPPRESSED, suppressed)


P = ParamSpec("P")
R = TypeVar("R")


def job(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a job's run(): counts the run by outcome, times it, logs `job.finished`.

    The timer triggers are not in the Functions host's OpenTelemetry request telemetry (HTTP,
    Service Bus and Event Hubs only), so this is what tells on-call that retention ran.
    """

    def wrap(run: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(run)
        def measured(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            outcome, failure = "failed", None
            try:
                result = run(*args, **kwargs)
                outcome = "succeeded"
                return result
            except Exception as exc:
                failure = type(exc).__name__
                raise
            finally:
                ms = round((time.perf_counter() - started) * 1000, 1)
                count(JOB_RUNS, job=name, outcome=outcome)
                _record(JOB_DURATION, "histogram", ms, {"job": name, "outcome": outcome})
                level = logging.INFO if failure is None else logging.ERROR
                log(LOG, level, "job.finished", job=name, outcome=outcome, ms=ms, error=failure)
                flush()

        return measured

    return wrap


def flush(timeout_millis: int = 5_000) -> None:
    """Export now (end of a daily job): a Flex Consumption instance may be gone within a minute."""
    provider = _provider
    if provider is None:
        return
    from opentelemetry import _logs  # already imported wherever metrics are active

    for each in (provider, _logs.get_logger_provider()):
        if hasattr(each, "force_flush"):
            each.force_flush(timeout_millis=timeout_millis)


# ---- Azure wiring -------------------------------------------------------------------------------

LOGGER_NAME = "cetegra"
"""Only the app's own loggers reach Application Insights (never the Azure SDK's, whose HTTP
logging writes request URLs with table keys)."""

DISABLED_INSTRUMENTATIONS = "azure_sdk,django,fastapi,flask,httpx,httpx2,psycopg2,requests,urllib,urllib3"
"""No automatic dependency spans: their URLs carry table keys (consent keys, pseudonyms)."""

APP_SETTINGS = {
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
    "PYTHON_APPLICATIONINSIGHTS_LOGGER_NAME": LOGGER_NAME,
    "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": DISABLED_INSTRUMENTATIONS,
}
"""What infra/app/function.bicep sets for the Python worker (docs/operations.md says why):
the worker calls `configure_azure_monitor()` at start-up with these, before function_app.py runs."""


def configure_for_azure(environ: Mapping[str, str] = os.environ) -> bool:
    """Metrics and structured logs to Application Insights; only when its connection string is set.

    In Azure the Python worker has already configured the Azure Monitor distro (APP_SETTINGS):
    the instruments are then bound to its global MeterProvider. Where it has not (an older worker,
    or `func start` with a connection string), the distro is configured here with the same
    choices. Without a connection string nothing is imported and everything stays a no-op.
    """
    if not environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return False
    from opentelemetry import metrics

    if environ.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").lower() != "true":
        from azure.monitor.opentelemetry import configure_azure_monitor

        configure_azure_monitor(**distro_options(environ))
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    activate(metrics.get_meter_provider())
    return True


def distro_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """The `configure_azure_monitor` arguments matching APP_SETTINGS (the exporter itself reads
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD for the managed identity)."""
    disabled = environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", DISABLED_INSTRUMENTATIONS)
    return {
        "connection_string": environ["APPLICATIONINSIGHTS_CONNECTION_STRING"],
        "logger_name": LOGGER_NAME,
        "instrumentation_options": {lib: {"enabled": False} for lib in disabled.split(",")},
        "enable_live_metrics": False,
    }
