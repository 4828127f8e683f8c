"""The app loads in Azure's real Python worker: `azure-functions-runtime`, the runtime pinned in
requirements.txt, indexes `function_app.py` through the calls the host's proxy worker makes at
start-up (tests/worker_probe.py; only the proxy worker's protobuf message module is stood in).

Each start runs in its own interpreter with Azure-shaped app settings (WEBSITE_SITE_NAME,
TABLES_ENDPOINT, KEY_VAULT_URL) and the app directory as working directory, as the worker does;
no module of the app is imported into it beforehand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

AZURE_SETTINGS = {
    "WEBSITE_SITE_NAME": "cetegra-analytics-test",
    "TABLES_ENDPOINT": "https://cetegraanalytics.table.core.windows.net",
    "KEY_VAULT_URL": "https://cetegra-analytics.vault.azure.net",
    "POLICY_VERSION": "2026-04",
    "STAFF_TENANT_IDS": "ce9a1000-57af-4000-8000-000000000001",
}

# The HTTP contract's routes and the timers' NCRONTAB schedules, as the host must receive them.
EXPECTED = {
    "health": ("httpTrigger", "api/health"),
    "openapi": ("httpTrigger", "api/openapi.json"),
    "consent": ("httpTrigger", "api/consent"),
    "events": ("httpTrigger", "api/events"),
    "ops_retention_run": ("httpTrigger", "api/ops/retention/run"),
    "ops_aggregation_run": ("httpTrigger", "api/ops/aggregation/run"),
    "ops_erasure": ("httpTrigger", "api/ops/erasure"),
    "ops_export": ("httpTrigger", "api/ops/export"),
    "ops_catalogue_unlisted": ("httpTrigger", "api/ops/catalogue/unlisted"),
    "notifications": ("httpTrigger", "api/notifications"),
    "notifications_seen": ("httpTrigger", "api/notifications/{id}/seen"),
    "notifications_dismiss": ("httpTrigger", "api/notifications/{id}/dismiss"),
    "notifications_answer": ("httpTrigger", "api/notifications/{id}/answer"),
    "authoring_items": ("httpTrigger", "api/authoring/items"),
    "authoring_item": ("httpTrigger", "api/authoring/items/{id}"),
    "authoring_item_results": ("httpTrigger", "api/authoring/items/{id}/results"),
    "authoring_item_reach": ("httpTrigger", "api/authoring/items/{id}/reach"),
    "authoring_item_duplicate": ("httpTrigger", "api/authoring/items/{id}/duplicate"),
    "authoring_reach": ("httpTrigger", "api/authoring/reach"),
    "authoring_settings": ("httpTrigger", "api/authoring/settings"),
    "authoring_tenants": ("httpTrigger", "api/authoring/tenants"),
    "notifications_opened": ("httpTrigger", "api/notifications/{id}/opened"),
    "authoring_page": ("httpTrigger", "authoring/{*path}"),  # the authoring page, outside api/
    "reports_surveys": ("httpTrigger", "api/reports/surveys"),
    "ops_tenant_directory": ("httpTrigger", "api/ops/tenants/{tenant_id}"),
    "ops_audit_reference": ("httpTrigger", "api/ops/audit/reference"),
    "reports_tenants": ("httpTrigger", "api/reports/tenants"),
    "reports_active_users": ("httpTrigger", "api/reports/active-users"),
    "reports_features": ("httpTrigger", "api/reports/features"),
    "reports_retention": ("httpTrigger", "api/reports/retention"),
    "reports_onboarding": ("httpTrigger", "api/reports/onboarding"),
    "reports_launch": ("httpTrigger", "api/reports/launch"),
    "reports_funnels": ("httpTrigger", "api/reports/funnels"),
    "reports_tenant_table": ("httpTrigger", "api/reports/tenant-table"),
    "reports_coverage": ("httpTrigger", "api/reports/coverage"),
    "reports_markers": ("httpTrigger", "api/reports/markers"),
    "reports_status": ("httpTrigger", "api/reports/status"),
    "markers": ("httpTrigger", "api/markers"),
    "marker": ("httpTrigger", "api/markers/{id}"),
    "reports_page": ("httpTrigger", "reports/{*path}"),  # the report page, outside api/
    "retention_timer": ("timerTrigger", "0 5 0 * * *"),
    "aggregation_timer": ("timerTrigger", "0 30 0 * * *"),
    "funnel_timer": ("timerTrigger", "0 50 0 * * *"),
}


def start_worker(app_dir: Path, *, isolated: bool = False) -> dict[str, Any]:
    """Start the worker on `app_dir`. `isolated`: the repository is not on the path at all (the
    probe runs as a script), so only what `app_dir` itself holds can be imported."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **AZURE_SETTINGS}
    if isolated:
        command = [sys.executable, str(ROOT / "tests" / "worker_probe.py"), str(app_dir)]
    else:
        env["PYTHONPATH"] = str(ROOT)  # the probe itself; the app is imported from app_dir first
        command = [sys.executable, "-m", "tests.worker_probe", str(app_dir)]
    done = subprocess.run(  # noqa: S603 - this interpreter on the probe module; no outside input
        command,
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def indexed() -> dict[str, Any]:
    return start_worker(ROOT)


def test_the_runtime_is_the_one_pinned_for_azure() -> None:
    from importlib.metadata import version

    pins = dict(
        line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line
    )
    assert version("azure-functions-runtime") == pins["azure-functions-runtime"]
    assert version("azure-functions") == pins["azure-functions"]
    assert sys.version_info[:2] == (3, 13)


def test_worker_indexes_every_function(indexed: dict[str, Any]) -> None:
    assert indexed["status"] == "Success", indexed.get("message")
    functions = {function["name"]: function for function in indexed["functions"]}
    assert len(functions) == len(indexed["functions"]), "function names must be unique"
    assert set(functions) == set(EXPECTED)
    for name, (trigger_type, where) in EXPECTED.items():
        function = functions[name]
        assert function["entry_point"] == name
        assert function["script_file"] == "function_app.py"
        assert function["properties"] == {"worker_indexed": "True"}
        triggers = [raw for raw in function["raw_bindings"] if raw["type"].endswith("Trigger")]
        assert len(triggers) == 1, f"{name}: exactly one trigger"
        (trigger,) = triggers
        assert trigger["type"] == trigger_type
        assert function["bindings"][trigger["name"]] == {"type": trigger_type, "direction": 0}
        if trigger_type == "httpTrigger":
            assert trigger["route"] == where
            assert trigger["authLevel"] == "ANONYMOUS"  # App Service Authentication guards the routes
            assert function["bindings"]["$return"] == {"type": "http", "direction": 1}
        else:
            assert trigger["schedule"] == where
            assert set(function["bindings"]) == {trigger["name"]}


def test_local_host_serves_what_the_worker_indexes(indexed: dict[str, Any], router: Any) -> None:
    """`make run` and every other test route through the same functions, routes and timers as Azure."""
    worker_routes = {}
    worker_timers = set()
    for function in indexed["functions"]:
        (trigger,) = (raw for raw in function["raw_bindings"] if raw["type"].endswith("Trigger"))
        if trigger["type"] == "httpTrigger":
            worker_routes[function["name"]] = trigger["route"]
        else:
            worker_timers.add(function["name"])
    assert {route.name: route.template for route in router.routes} == worker_routes
    assert {timer.get_function_name() for timer in router.timers} == worker_timers


BROKEN_APP_HEADER = """import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
"""
BROKEN_APPS = {
    "parameter_without_binding": (
        """
        @app.route(route="broken")
        def broken(req: func.HttpRequest, tenant: str) -> func.HttpResponse:
            return func.HttpResponse("never")
        """,
        "FunctionLoadError: cannot load the broken function: the following parameters are declared in Python",
    ),
    "context_of_wrong_type": (
        """
        @app.route(route="broken")
        def broken(req: func.HttpRequest, context: str) -> func.HttpResponse:
            return func.HttpResponse("never")
        """,
        'FunctionLoadError: cannot load the broken function: the "context" parameter is expected',
    ),
    "duplicate_function_name": (
        """
        @app.route(route="one")
        @app.function_name("same")
        def one(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("one")

        @app.route(route="two")
        @app.function_name("same")
        def two(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("two")
        """,
        "ValueError: Function same does not have a unique function name",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_APPS))
def test_a_broken_app_fails_to_start(case: str, tmp_path: Path) -> None:
    body, message = BROKEN_APPS[case]
    (tmp_path / "function_app.py").write_text(BROKEN_APP_HEADER + textwrap.dedent(body))
    outcome = start_worker(tmp_path)
    assert outcome["status"] == "Failure", outcome
    assert message in outcome["message"]
