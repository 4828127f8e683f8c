"""Infrastructure drift: the Bicep template and the settings model must describe the same app.

Every setting the code requires in Azure is set by the template; the template sets nothing the
code does not read (beyond the Functions host's own settings); local-only settings are never set;
and every resource stays in the EEA.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.settings import Settings

INFRA = Path(__file__).resolve().parent.parent / "infra"
HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
PLATFORM_SET = {"WEBSITE_SITE_NAME"}  # App Service sets it; the code reads it to detect Azure
LOCAL_ONLY = {"TABLES_CONNECTION_STRING", "DEV_SALT_FILE"}
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
    unknown = set(template_settings()) - HOST_SETTINGS - set(code_settings())
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
    }
    env = {"WEBSITE_SITE_NAME": "func-abc"}
    for name, value in template_settings().items():
        if name in HOST_SETTINGS:
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
                "version: '3.11'",
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


def test_analysts_read_the_aggregate_tables_only():
    """The BI path: an Entra group parameter gets Storage Table Data Reader on each aggregate
    table, scoped to that table, and on nothing else (never the raw or pseudonymous tables)."""
    from shared.reports_store import AGGREGATE_TABLES
    from shared.storage import AGGREGATES

    text = (INFRA / "app" / "rbac.bicep").read_text()
    listed = re.search(r"var aggregateTables = \[\n(.*?)\n\]", text, re.S)
    assert listed, "rbac.bicep must declare `var aggregateTables = [ ... ]`"
    tables = set(re.findall(r"'([a-z0-9]+)'", listed.group(1)))
    assert tables == set(AGGREGATE_TABLES) | set(AGGREGATES.values())
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
