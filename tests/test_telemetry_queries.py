"""The workbook and alert queries use only names the code emits.

KQL cannot run here, so a renamed log field, event or metric would break a chart or silence an
alert without any failing test. This holds every query in infra/queries to what the code really
writes: metric names and their dimensions from shared/kernel/telemetry.py's METRICS, event names and
their fields from every `log(...)` call in shared/ and functions/ (read from the source, so a
rename in code shows up here), and the values compared with a declared dimension (a job, an
outcome, a drop reason) from the values the code allows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared.kernel import telemetry

ROOT = Path(__file__).resolve().parent.parent
QUERIES = sorted((ROOT / "infra" / "queries").glob("*.kql"))
BICEP = (ROOT / "infra" / "app" / "observability.bicep").read_text()

DIMENSION = re.compile(r"customDimensions(?:\.([A-Za-z_]\w*)|\[['\"]([^'\"]+)['\"]\])")
COMPARED = re.compile(r"customDimensions\.(\w+)\)?\s*(?:==|!=|in)\s*(\([^)]*\)|\"[^\"]*\")")
QUOTED = re.compile(r"\"([^\"]*)\"")
METRIC_NAME = re.compile(r"\"(cetegra\.[a-z0-9_.]+)\"")


def emitted_events() -> dict[str, set[str]]:
    """Event name → the field names its `log(logger, level, "event", **fields)` calls pass."""
    events: dict[str, set[str]] = {}
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or len(node.args) < 3:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            event = node.args[2]
            if name == "log" and isinstance(event, ast.Constant) and isinstance(event.value, str):
                events.setdefault(event.value, set()).update(k.arg for k in node.keywords if k.arg)
    return events


EVENTS = emitted_events()
LOG_FIELDS = {"event"} | {field for fields in EVENTS.values() for field in fields}
METRIC_DIMENSIONS = {key for metric in telemetry.METRICS.values() for key in metric.dimensions}
ALLOWED_VALUES: dict[str, set[str]] = {}
for _metric in telemetry.METRICS.values():
    for _key, _values in _metric.dimensions.items():
        if _values is not None:
            ALLOWED_VALUES.setdefault(_key, set()).update(_values)


def strip_comments(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def test_the_scan_finds_what_it_checks_against():
    assert len(QUERIES) >= 10
    assert {"events.accepted", "retention.run", "job.finished", "http.request", "salt.version_in_use"} <= set(
        EVENTS
    )
    assert {"oldest_raw_day", "removed_periods", "outcome", "status"} <= LOG_FIELDS


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_query_uses_only_emitted_names(path):
    text = strip_comments(path.read_text())
    used = {a or b for a, b in DIMENSION.findall(text)}
    unknown = used - LOG_FIELDS - METRIC_DIMENSIONS
    assert not unknown, f"{path.name}: custom dimensions no code emits: {sorted(unknown)}"

    metrics = set(METRIC_NAME.findall(text))
    assert metrics <= set(telemetry.METRICS), (
        f"{path.name}: unknown metrics {sorted(metrics - set(telemetry.METRICS))}"
    )
    assert "customMetrics" not in text or metrics, f"{path.name}: reads customMetrics without naming a metric"

    for key, compared in COMPARED.findall(text):
        values = set(QUOTED.findall(compared))
        if key == "event":
            assert values <= set(EVENTS), f"{path.name}: events never logged: {sorted(values - set(EVENTS))}"
        elif key in ALLOWED_VALUES:
            assert values <= ALLOWED_VALUES[key], (
                f"{path.name}: {key} never takes {sorted(values - ALLOWED_VALUES[key])}"
            )


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.name)
def test_every_trace_query_reads_fields_its_events_carry(path):
    """A query on `traces` filtered to some events may only read fields those events carry."""
    text = strip_comments(path.read_text())
    if "traces" not in text:
        return
    events = {
        v for key, compared in COMPARED.findall(text) if key == "event" for v in QUOTED.findall(compared)
    }
    assert events, f"{path.name}: a trace query must filter on customDimensions.event"
    carried = {"event"} | {field for event in events for field in EVENTS[event]}
    used = {a or b for a, b in DIMENSION.findall(text)}
    assert used <= carried, f"{path.name}: {sorted(used - carried)} not carried by {sorted(events)}"


def test_every_query_file_is_loaded_by_the_bicep_and_every_load_exists():
    loaded = set(re.findall(r"loadTextContent\('\.\./queries/([^']+)'\)", BICEP))
    assert loaded == {path.name for path in QUERIES}


def test_alerts_have_an_action_group_parameter_and_a_runbook_entry():
    assert "param actionGroupId string" in BICEP
    rules = re.findall(r"resource \w+ 'Microsoft\.Insights/scheduledQueryRules@[\d-]+'", BICEP)
    assert len(rules) == 5
    assert BICEP.count("actions: { actionGroups: actions }") == len(rules)
    runbook = (ROOT / "docs" / "operations.md").read_text()
    for title in re.findall(r"docs/operations\.md: \"([^\"]+)\"", BICEP):
        assert f"### {title}" in runbook, f"docs/operations.md lacks the section for the alert {title!r}"


def test_main_deploys_the_observability_module():
    main = (ROOT / "infra" / "main.bicep").read_text()
    assert "module observability 'app/observability.bicep'" in main
    assert "actionGroupId: alertActionGroupId" in main


def test_the_template_sets_the_workers_telemetry_settings():
    function = (ROOT / "infra" / "app" / "function.bicep").read_text()
    for name, value in telemetry.APP_SETTINGS.items():
        assert f"{name}: '{value}'" in function, name
    host = (ROOT / "host.json").read_text()
    assert '"telemetryMode": "OpenTelemetry"' in host
