"""Telemetry as Application Insights receives it, through in-memory OpenTelemetry exporters.

The same OpenTelemetry LoggingHandler the Azure Monitor distro attaches to the `cetegra` logger,
and a MeterProvider with an in-memory reader in place of the Azure Monitor exporter: after the
privacy scenario (hostile headers, e-mail-like names, ids in pages), both jobs and a Key Vault
outage, the log records carry their fields as attributes (custom dimensions), the metrics carry
their dimensions, and no user id, tenant id, page, session id, IP or user agent is in any of them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from shared.kernel import telemetry
from shared.kernel.logs import log, refused
from testing.client import POLICY
from testing.principal import STAFF_TENANT_ID, principal_header
from tests.test_privacy import (
    EMAIL,
    HOSTILE,
    SECRETS,
    TENANT,
    USER,
    any_mode_client,  # noqa: F401 (the fixture, both declined modes)
    scenario,
)

ROOT = Path(__file__).resolve().parent.parent
OPS = principal_header(
    user_id="ops-" + USER,
    tenant_id=STAFF_TENANT_ID,
    name="ops." + EMAIL,
    roles=("Cetegra.Analytics.Operator",),
)
IDENTIFYING = ("user_id", "tenant_id", "page", "session_id", "ip", "user_agent", "email", "name", "principal")


class Pipeline:
    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.meters = MeterProvider(metric_readers=[self.reader])
        self.exporter = InMemoryLogRecordExporter()
        self.loggers = LoggerProvider()
        self.loggers.add_log_record_processor(SimpleLogRecordProcessor(self.exporter))
        self.handler = LoggingHandler(logger_provider=self.loggers)

    def points(self) -> list[tuple[str, dict[str, Any], float]]:
        """(metric name, attributes, value) for every data point read so far."""
        data = self.reader.get_metrics_data()
        out = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        out.append(
                            (metric.name, dict(point.attributes), value if value is not None else point.sum)
                        )
        return out

    def total(self, name: str, **dims: str) -> float:
        return sum(
            v for n, a, v in self.points() if n == name and all(a.get(k) == w for k, w in dims.items())
        )

    def records(self) -> list[Any]:
        return [data.log_record for data in self.exporter.get_finished_logs()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [dict(r.attributes) for r in self.records() if r.attributes.get("event") == event]


@pytest.fixture
def otel():
    pipeline = Pipeline()
    logger = logging.getLogger(telemetry.LOGGER_NAME)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(pipeline.handler)
    telemetry.activate(pipeline.meters)
    yield pipeline
    telemetry.deactivate()
    logger.removeHandler(pipeline.handler)
    logger.setLevel(level)
    pipeline.meters.shutdown()
    pipeline.loggers.shutdown()


def test_events_reach_application_insights_with_their_fields_as_dimensions(make_client, clock, otel):
    client = make_client(DECLINED_MODE="anonymous")
    scenario(client)
    clock.advance(days=2)
    assert client.post("/api/ops/aggregation/run", {}, principal=OPS, headers=HOSTILE).status == 200
    assert client.post("/api/ops/retention/run", {}, principal=OPS, headers=HOSTILE).status == 200

    accepted = otel.events("events.accepted")
    assert accepted and all(a["consent"] == "granted" and a["count"] == 11 for a in accepted)
    [run] = otel.events("retention.run")
    assert run["removed_periods"] == 0 and run["oldest_kept_day"]
    finished = {(a["job"], a["outcome"]) for a in otel.events("job.finished")}
    assert finished == {("retention", "succeeded"), ("aggregation", "succeeded")}
    body = next(str(r.body) for r in otel.records() if r.attributes.get("event") == "events.accepted")
    assert body.startswith("events.accepted consent=granted count=11"), body

    assert otel.total("cetegra.events.accepted", consent="granted") == 22
    [(_, dims, _)] = [p for p in otel.points() if p[0] == "cetegra.events.accepted"]
    assert set(dims) == {"consent", "salt_version"}
    assert otel.total("cetegra.consent.decisions", status="granted") == 2
    assert otel.total("cetegra.consent.decisions", status="declined", previous="granted") == 1
    assert otel.total("cetegra.http.errors", code="unknown_field", status="400") == 2
    assert otel.total("cetegra.job.runs", job="retention", outcome="succeeded") == 1
    assert otel.total("cetegra.job.runs", job="aggregation", outcome="succeeded") == 1
    # the withdrawal marked the day before too (an event could still be written there), making
    # its table: an empty day is built, and it is the oldest raw day
    assert otel.total("cetegra.aggregation.days_built") == 2
    assert otel.total("cetegra.retention.oldest_raw_day_age") == 3
    [(_, salt, age)] = [p for p in otel.points() if p[0] == "cetegra.salt.version_age"]
    assert salt["state"] == "current" and age == 2
    assert otel.total("cetegra.keyvault.salt_reads", outcome="ok") >= 1


def test_no_identifier_in_any_dimension_or_message(any_mode_client, clock, otel):  # noqa: F811 (fixture)
    client = any_mode_client
    scenario(client)
    clock.advance(days=2)
    client.post("/api/ops/aggregation/run", {}, principal=OPS, headers=HOSTILE)
    client.post("/api/ops/export", {"user_id": USER, "tenant_id": TENANT}, principal=OPS, headers=HOSTILE)
    client.post(
        "/api/ops/erasure",
        {"user_id": USER, "tenant_id": TENANT, "mode": "delete"},
        principal=OPS,
        headers=HOSTILE,
    )
    clock.advance(days=800)
    client.post("/api/ops/retention/run", {}, principal=OPS, headers=HOSTILE)

    records, points = otel.records(), otel.points()
    assert len(records) > 20 and len(points) > 10, "too little telemetry to prove anything"
    keys = {key for r in records for key in r.attributes} | {key for _, a, _ in points for key in a}
    assert not [key for key in keys if refused(key)], keys
    normal = {key.lower().replace(".", "_") for key in keys}
    assert not normal.intersection(IDENTIFYING)
    text = "\n".join(
        [str(r.body) for r in records]
        + [f"{k}={v}" for r in records for k, v in r.attributes.items()]
        + [f"{n} {a}" for n, a, _ in points]
    ).lower()
    for secret in [*SECRETS, "ops-" + USER, "ops." + EMAIL, "/users/", "/cases/", "workspace.cetegra.com"]:
        assert secret.lower() not in text, secret


def test_503s_are_counted_by_dependency_and_vault_reads_by_outcome(client, vault, otel):
    user = principal_header(user_id="u-503", tenant_id="t-503")
    vault.down = True
    assert client.get("/api/consent", principal=user).status == 503
    assert otel.total("cetegra.http.unavailable", dependency="vault") == 1
    assert otel.total("cetegra.http.errors", code="key_vault_unavailable", status="503") == 1
    assert otel.total("cetegra.keyvault.salt_reads", outcome="failed") == 1
    vault.down = False
    assert client.get("/api/consent", principal=user).status == 200
    vault.down = True
    client.services.salts._refresh_at = 0  # the TTL ran out while the vault is down: the warm cache serves
    assert client.get("/api/consent", principal=user).status == 200
    assert otel.total("cetegra.keyvault.salt_reads", outcome="served_cached") == 1
    assert otel.events("salt.serving_cached")


def test_declined_events_are_counted_as_dropped_for_consent(client, otel):
    user = principal_header(user_id="u-drop", tenant_id="t-drop")
    client.put("/api/consent", {"status": "declined", "policy_version": POLICY}, principal=user)
    events = [{"event_id": str(uuid.uuid4()), "name": "feature.used", "session_id": str(uuid.uuid4())}] * 1
    assert client.post("/api/events", {"events": events}, principal=user).status == 202
    assert otel.total("cetegra.events.dropped", reason=telemetry.DROP_CONSENT) == 1
    assert otel.total("cetegra.events.accepted") == 0


def test_unlisted_pages_and_apps_and_the_rate_limit_are_counted_by_reason(make_client, otel):
    client = make_client(EVENTS_PER_MINUTE="100")
    user = principal_header(user_id="u-limit", tenant_id="t-limit")
    client.put("/api/consent", {"status": "granted", "policy_version": POLICY}, principal=user)

    def event(**fields: str) -> dict[str, str]:
        return {
            "event_id": str(uuid.uuid4()),
            "name": "feature.used",
            "session_id": str(uuid.uuid4()),
            **fields,
        }

    sent = [event(page="/kari-nordmann/secret"), event(page="/cases/4711", app="ord-99887766"), event()]
    assert client.post("/api/events", {"events": sent}, principal=user).status == 202
    assert otel.total("cetegra.events.dropped", reason=telemetry.DROP_UNLISTED_PAGE) == 1
    assert otel.total("cetegra.events.dropped", reason=telemetry.DROP_UNLISTED_APP) == 1
    assert otel.total("cetegra.events.accepted") == 3
    over = [event() for _ in range(98)]  # 3 + 98 > 100 a minute
    assert client.post("/api/events", {"events": over}, principal=user).status == 429
    assert otel.total("cetegra.events.dropped", reason=telemetry.DROP_LIMIT) == 98


def test_a_failed_job_is_counted_logged_as_error_and_still_raised(client, otel, monkeypatch):
    def broken() -> list[object]:
        raise RuntimeError("table listing failed")

    monkeypatch.setattr(client.services.tables.events, "days", broken)
    with pytest.raises(RuntimeError):
        client.services.aggregation.run()
    assert otel.total("cetegra.job.runs", job="aggregation", outcome="failed") == 1
    [failed] = [r for r in otel.records() if r.attributes.get("event") == "job.finished"]
    assert failed.attributes["error"] == "RuntimeError" and failed.severity_text == "ERROR"
    assert "table listing failed" not in str(failed.body)


@pytest.mark.parametrize(
    "field",
    [
        "user_id", "USER_ID", "userId", "tenant_id", "tid", "oid", "page", "page_path", "session_id",
        "session.id", "enduser.id", "enduser.pseudo.id", "client.address", "client_ip", "http.client_ip",
        "net.peer.ip", "ip", "user_agent", "user_agent.original", "user-agent", "email", "e-mail",
        "mail", "body", "request_body", "token", "access_token", "comment", "comment_text", "referrer",
        "name", "principal", "cookie", "url", "pseudonym", "consent_key", "tenant_ref",
    ],
)  # fmt: skip
def test_identifying_field_names_are_refused(field):
    with pytest.raises(ValueError, match="personal-data"):
        log(logging.getLogger("cetegra.test"), logging.INFO, "x", **{field: "v"})


@pytest.mark.parametrize("field", ["msg", "args", "module", "levelname", "created", "exc_info"])
def test_field_names_that_would_overwrite_the_log_record_are_refused(field):
    with pytest.raises(ValueError, match="reserved"):
        log(logging.getLogger("cetegra.test"), logging.INFO, "x", **{field: "v"})


def test_metrics_are_checked_even_when_telemetry_is_off():
    assert not telemetry.active()
    telemetry.count(telemetry.EVENTS_DROPPED, 2, reason=telemetry.DROP_LIMIT)  # no-op, no error
    with pytest.raises(ValueError, match="not one of"):
        telemetry.count(telemetry.EVENTS_DROPPED, reason="because")
    with pytest.raises(ValueError, match="takes dimensions"):
        telemetry.count(telemetry.EVENTS_DROPPED, reason="consent", page="/x")
    with pytest.raises(TypeError):
        telemetry.gauge(telemetry.EVENTS_DROPPED, 1, reason="consent")


def test_free_dimension_values_that_look_like_content_are_reported_as_other(otel):
    telemetry.count(telemetry.HTTP_ERRORS, code="kari.nordmann@contoso.com", status="400")
    telemetry.count(telemetry.HTTP_ERRORS, code="unknown_field", status="400")
    codes = {a["code"] for n, a, _ in otel.points() if n == "cetegra.http.errors"}
    assert codes == {"other", "unknown_field"}


def test_every_declared_metric_is_namespaced_and_its_dimensions_allowed():
    for metric in telemetry.METRICS.values():
        assert metric.name.startswith("cetegra.") and metric.unit and metric.description
        assert not [key for key in metric.dimensions if refused(key)]


def test_configure_for_azure_is_a_no_op_without_a_connection_string():
    assert telemetry.configure_for_azure({}) is False
    assert not telemetry.active()


def test_configure_for_azure_uses_the_workers_distro_when_the_worker_configured_it(monkeypatch):
    from opentelemetry import metrics

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: provider)

    def must_not_run(**_: Any) -> None:
        raise AssertionError("the worker already configured the distro: a second one doubles every record")

    monkeypatch.setattr("azure.monitor.opentelemetry.configure_azure_monitor", must_not_run)
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x", **telemetry.APP_SETTINGS}
    try:
        assert telemetry.configure_for_azure(env) is True
        assert telemetry.active()
    finally:
        telemetry.deactivate()
        provider.shutdown()


def test_configure_for_azure_configures_the_distro_itself_otherwise(monkeypatch):
    from opentelemetry import metrics

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: provider)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("azure.monitor.opentelemetry.configure_azure_monitor", lambda **kw: calls.append(kw))
    try:
        assert telemetry.configure_for_azure(
            {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"}
        )
    finally:
        telemetry.deactivate()
        provider.shutdown()
    [options] = calls
    assert options["logger_name"] == "cetegra" and options["enable_live_metrics"] is False
    assert options["instrumentation_options"]["azure_sdk"] == {"enabled": False}
    assert options["instrumentation_options"]["urllib3"] == {"enabled": False}


def test_importing_the_app_offline_does_not_import_opentelemetry(tmp_path):
    """The cold start outside Azure (tests, `make run`) pays nothing for telemetry."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("APPLICATIONINSIGHTS", "PYTHON_APP"))
    }
    env.update(
        POLICY_VERSION=POLICY,
        DEV_SALT_FILE=str(tmp_path / "salt"),
        TABLES_CONNECTION_STRING="UseDevelopmentStorage=true",
    )
    probe = (
        "import sys, function_app;"
        "print(sorted({m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor'))}))"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
