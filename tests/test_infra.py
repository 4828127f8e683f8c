"""Infrastructure drift: the Bicep template and the settings model must describe the same app.

Every setting the code requires in Azure is set by the template; the template sets nothing the
code does not read (beyond the Functions host's own settings); local-only settings are never set;
and every resource stays in the EEA.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from shared.kernel.settings import Settings
from shared.kernel.telemetry import APP_SETTINGS as TELEMETRY_SETTINGS

INFRA = Path(__file__).resolve().parent.parent / "infra"
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    *TELEMETRY_SETTINGS,  # read by the Python worker and the Azure Monitor distro, not by Settings
}
PLATFORM_SET = {"WEBSITE_SITE_NAME"}  # App Service sets it; the code reads it to detect Azure
PLATFORM_READ = {"WEBSITE_AUTH_AAD_ALLOWED_TENANTS"}
"""Settings App Service Authentication itself reads (the allowed-tenants check on `tid`)."""
LOCAL_ONLY = {"TABLES_CONNECTION_STRING", "DEV_SALT_FILE", "RELEASE_NOISE"}  # all refused in Azure
EEA = {
    "westeurope",
    "northeurope",
    "swedencentral",
    "swedensouth",
    "germanywestcentral",
    "germanynorth",
    "francecentral",
    "francesouth",
    "italynorth",
    "polandcentral",
    "spaincentral",
    "norwayeast",
    "norwaywest",
    "austriaeast",
    "belgiumcentral",
    "denmarkeast",
    "finlandcentral",
    "greececentral",
}


def template_settings() -> dict[str, str]:
    text = (INFRA / "app" / "function.bicep").read_text()
    block = re.search(r"var appSettings = \{\n(.*?)\n\}", text, re.S)
    assert block, "function.bicep must declare `var appSettings = { ... }`"
    pairs = re.findall(r"^\s*([A-Za-z0-9_]+):\s*(.+?)\s*$", block.group(1), re.M)
    return dict(pairs)


def code_settings() -> dict[str, bool]:
    """App setting name → required (no default) for every field of the settings model."""
    return {field.alias: field.is_required() for field in Settings.model_fields.values() if field.alias}


def test_template_sets_only_what_the_code_reads():
    unknown = set(template_settings()) - HOST_SETTINGS - PLATFORM_READ - set(code_settings())
    assert not unknown, f"template sets settings the code never reads: {sorted(unknown)}"


def test_template_sets_everything_the_code_requires_in_azure():
    in_azure = {
        "TABLES_ENDPOINT",
        "KEY_VAULT_URL",
    }  # optional locally, required when WEBSITE_SITE_NAME is set
    required = {name for name, needed in code_settings().items() if needed} | in_azure
    missing = required - set(template_settings())
    assert not missing, f"template misses required settings: {sorted(missing)}"


def test_template_never_sets_local_only_settings():
    assert not LOCAL_ONLY & set(template_settings())


def test_every_code_setting_is_either_in_the_template_or_defaulted_on_purpose():
    documented_defaults = {
        "TABLE_PREFIX",
        "CLAIM_USER_ID",
        "CLAIM_TENANT_ID",
        "ROLE_USER_TYPES",
        "EVENT_MAX_AGE_HOURS",
        "EVENT_MAX_FUTURE_SECONDS",
    }
    unset = set(code_settings()) - set(template_settings()) - LOCAL_ONLY - PLATFORM_SET
    assert unset == documented_defaults, "a new setting must be set by the template or listed here"


def test_template_values_pass_the_settings_validation():
    """The literal values in the template, with plausible stand-ins for Bicep expressions."""
    stand_ins = {
        "TABLES_ENDPOINT": "https://stabc.table.core.windows.net/",
        "KEY_VAULT_URL": "https://kv-abc.vault.azure.net/",
        "SALT_SECRET_NAME": "analytics-pseudonym-salt",
        "POLICY_VERSION": "2026-04",
        "DECLINED_MODE": "drop",
        "CORS_ALLOWED_ORIGINS": "https://workspace.cetegra.com",
        "ALLOWED_TENANT_IDS": "c0ffee00-1111-2222-3333-444455556666,0d15ea5e-aaaa-bbbb-cccc-ddddeeeeffff",
        "STAFF_TENANT_IDS": "ce9a1000-57af-4000-8000-000000000001",
    }
    env = {"WEBSITE_SITE_NAME": "func-abc"}
    for name, value in template_settings().items():
        if name in HOST_SETTINGS or name in PLATFORM_READ:
            continue
        literal = re.fullmatch(r"'([^']*)'", value)
        env[name] = literal.group(1) if literal else stand_ins[name]
    settings = Settings.from_env(env)
    assert settings.running_in_azure and settings.retention_months == 24


def test_location_is_eea_only_and_used_everywhere():
    main = (INFRA / "main.bicep").read_text()
    allowed = re.search(r"@allowed\(\[\n(.*?)\]\)\n@description\('EEA region", main, re.S)
    assert allowed, "main.bicep must restrict `location` with @allowed"
    regions = set(re.findall(r"'([a-z]+)'", allowed.group(1)))
    assert regions and regions <= EEA
    modules = re.findall(r"module \w+ '([^']+)' = \{(.*?)\n\}", main, re.S)
    for path, body in modules:
        text = (INFRA / path).read_text()
        if "location:" in text:
            assert "location: location" in body, f"{path} must get the EEA location parameter"
        assert not re.search(r"location:\s*'", text), f"{path} hard-codes a location"


@pytest.mark.parametrize(
    ("path", "needles"),
    [
        (
            "app/storage.bicep",
            [
                "allowSharedKeyAccess: false",
                "minimumTlsVersion: 'TLS1_2'",
                "allowBlobPublicAccess: false",
                "supportsHttpsTrafficOnly: true",
                "Standard_ZRS",
            ],
        ),
        (
            "app/keyvault.bicep",
            ["enableRbacAuthorization: true", "softDeleteRetentionInDays: 90", "enablePurgeProtection: true"],
        ),
        ("app/monitoring.bicep", ["DisableLocalAuth: true", "disableLocalAuth: true"]),
        (
            "app/function.bicep",
            [
                "type: 'SystemAssigned'",
                "requireAuthentication: true",
                "excludedPaths: ['/api/health', '/api/openapi.json']",
                "runtime: { name: 'python', version: '3.13' }",
                "tier: 'FlexConsumption'",
                "httpsOnly: true",
            ],
        ),
    ],
)
def test_locked_down_properties(path, needles):
    text = (INFRA / path).read_text()
    for needle in needles:
        assert needle in text, f"{path}: {needle}"


def test_no_ip_masking_opt_out_and_no_secrets_in_templates():
    for path in INFRA.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert not re.search(r"DisableIpMasking\s*:", text), f"{path}: IP masking must stay on"
            assert "AccountKey" not in text and "listKeys(" not in text
            assert "secrets@" not in text, f"{path}: the salt is created outside the template"


def test_every_checkov_skip_is_justified():
    skips = [
        line.strip()
        for path in INFRA.rglob("*.bicep")
        for line in path.read_text().splitlines()
        if "checkov:skip=" in line
    ]
    assert skips, "expected the documented suppressions"
    for skip in skips:
        check, _, reason = skip.partition("checkov:skip=")[2].partition(":")
        assert re.fullmatch(r"CKV2?_AZURE_\d+", check), skip
        assert len(reason.strip()) >= 30, f"suppression without a real reason: {skip}"


def test_one_python_version_everywhere():
    """The interpreter the tests run on is the one Azure runs (Flex Consumption) and CI sets up."""
    root = INFRA.parent
    wanted = re.search(r'^requires-python = "==(\d+\.\d+)\.\*"$', (root / "pyproject.toml").read_text(), re.M)
    assert wanted, "pyproject.toml must pin requires-python to one minor version"
    version = wanted.group(1)
    bicep = (INFRA / "app" / "function.bicep").read_text()
    assert re.findall(r"runtime: \{ name: 'python', version: '([\d.]+)' \}", bicep) == [version]
    ci = (root / ".github" / "workflows" / "ci.yml").read_text()
    assert re.findall(r'python-version: "([\d.]+)"', ci) == [version]
    assert f"python{version}" in (root / "Makefile").read_text()
    pyproject = (root / "pyproject.toml").read_text()
    assert f'target-version = "py{version.replace(".", "")}"' in pyproject  # ruff
    assert f'python_version = "{version}"' in pyproject  # mypy
    assert "{}.{}".format(*sys.version_info[:2]) == version


def _auth_block() -> str:
    text = (INFRA / "app" / "function.bicep").read_text()
    block = re.search(r"resource auth 'Microsoft.Web/sites/config@[^']+' = \{\n(.*?)\n\}", text, re.S)
    assert block, "function.bicep must declare the authsettingsV2 resource `auth`"
    return block.group(1)


def test_sign_in_is_multi_tenant_and_restricted_to_the_listed_tenants():
    """Customers sign in with their own Entra tenants: the issuer is the multi-tenant
    `organizations` endpoint (work and school accounts only, never a single tenant's issuer), and
    the platform's allowed-tenants check and the app's own check get the same parameter list."""
    auth = _auth_block()
    assert "openIdIssuer: 'https://login.microsoftonline.com/organizations/v2.0'" in auth
    assert "sts.windows.net" not in auth and "/common/" not in auth and "tenant()" not in auth
    assert "requireAuthentication: true" in auth and "unauthenticatedClientAction: 'Return401'" in auth
    settings = template_settings()
    assert settings["WEBSITE_AUTH_AAD_ALLOWED_TENANTS"] == "join(allowedTenantIds, ',')"
    assert settings["ALLOWED_TENANT_IDS"] == settings["WEBSITE_AUTH_AAD_ALLOWED_TENANTS"]
    function = (INFRA / "app" / "function.bicep").read_text()
    param = re.search(r"((?:@\w+\([^\n]*\)\n)+)param allowedTenantIds array\n", function)
    assert param, "allowedTenantIds must be an array parameter of function.bicep"
    assert "@minLength(1)" in param.group(1)  # never an empty list (which would mean: any tenant)
    assert "@maxLength(10)" in param.group(1)  # the platform checks at most 10 tenant ids
    main = (INFRA / "main.bicep").read_text()
    assert re.search(r"allowedTenantIds: union\(\[tenant\(\)\.tenantId\], ", main), (
        "the deploying tenant is always allowed, plus the customers' tenants"
    )
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["allowedTenantIds"]["value"] == "${ALLOWED_TENANT_IDS}"
    assert re.search(r"param allowedTenantIds string = ''", main)


def test_staff_tenants_flow_from_the_azd_environment_to_the_app_setting():
    """STAFF_TENANT_IDS: a required parameter (the app refuses to start in Azure
    without it), passed as the app setting of the same name, and its tenants may sign in."""
    assert template_settings()["STAFF_TENANT_IDS"] == "join(staffTenantIds, ',')"
    function = (INFRA / "app" / "function.bicep").read_text()
    param = re.search(r"((?:@\w+\([^\n]*\)\n)+)param staffTenantIds array\n", function)
    assert param and "@minLength(1)" in param.group(1)
    main = (INFRA / "main.bicep").read_text()
    assert re.search(r"\nparam staffTenantIds string\n", main), "required: no default"
    assert "    staffTenantIds: split(staffTenantIds, ',')\n" in main
    assert re.search(
        r"allowedTenantIds: union\(\[tenant\(\)\.tenantId\], split\(staffTenantIds, ','\), ", main
    )
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["staffTenantIds"]["value"] == "${STAFF_TENANT_IDS}"


def test_platform_cors_is_off_so_the_apps_own_cors_answers():
    """App Service's CORS, when given origins, answers preflights itself and takes precedence over
    the app's CORS headers, and it cannot expose a response header: a client on another origin
    would never read `Retry-After`. So the platform's list stays empty and the app's
    CORS (functions/edge.py, CORS_ALLOWED_ORIGINS) answers, Expose-Headers included."""
    function = (INFRA / "app" / "function.bicep").read_text()
    cors = re.search(r"\n      cors: \{\n(.*?)\n      \}", function, re.S)
    assert cors, "function.bicep must state the platform CORS explicitly"
    assert re.fullmatch(r"\s*allowedOrigins: \[\]", cors.group(1)), cors.group(1)
    assert template_settings()["CORS_ALLOWED_ORIGINS"] == "settings.corsAllowedOrigins"


def test_client_application_check_is_wired_when_given():
    auth = _auth_block()
    assert "defaultAuthorizationPolicy: empty(allowedClientApplications) ? null : {" in auth
    assert "allowedApplications: allowedClientApplications" in auth


def test_abuse_limit_is_set_by_the_template():
    assert template_settings()["EVENTS_PER_MINUTE"] == "'600'"


def test_analysts_read_the_aggregate_tables_only():
    """The BI path: an Entra group parameter gets Storage Table Data Reader on each released
    table, scoped to that table, and on nothing else (never the raw or pseudonymous tables, nor
    the exact internal aggregates that differencing against the releases would expose)."""
    from shared.storage.aggregates import TABLES as AGGREGATES
    from shared.storage.reports import AGGREGATE_TABLES
    from shared.storage.tenants import TENANTS

    text = (INFRA / "app" / "rbac.bicep").read_text()
    listed = re.search(r"var aggregateTables = \[\n(.*?)\n\]", text, re.S)
    assert listed, "rbac.bicep must declare `var aggregateTables = [ ... ]`"
    tables = set(re.findall(r"'([a-z0-9]+)'", listed.group(1)))
    assert tables == set(AGGREGATE_TABLES) | {TENANTS}
    assert not tables & set(AGGREGATES.values())  # aggdaily, aggmonthly: exact, internal
    assert not {
        name
        for name in tables
        if name.startswith(("ev", "ud")) or name in ("consent", "audit", "firstseen", "saltusage")
    }
    assert "Microsoft.Storage/storageAccounts/tableServices/tables@" in text
    reader = re.search(
        r"resource analystsRead [^=]+= \[for \(name, i\) in aggregateTables: "
        r"if \(!empty\(analystsGroupId\)\) \{(.*?)\n\}\]",
        text,
        re.S,
    )
    assert reader, "one role assignment per aggregate table, only when a group is given"
    body = reader.group(1)
    assert "scope: aggregateTable[i]" in body and "principalType: 'Group'" in body
    assert "roles.storageTableDataReader" in body
    assert "storageTableDataReader: '76199698-9eea-4c19-bc75-cec21354c6b6'" in text
    assert text.count("roles.storageTableDataReader") == 2  # name and role of that one assignment
    main = (INFRA / "main.bicep").read_text()
    assert "analystsGroupId: analystsGroupId" in main
    assert "${ANALYSTS_GROUP_ID}" in (INFRA / "main.parameters.json").read_text()
