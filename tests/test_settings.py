"""Settings: validated at start-up, every problem named by its app setting."""

from __future__ import annotations

import pytest

from shared.kernel.settings import Settings, SettingsError
from shared.privacy.identity import user_type_for

BASE = {
    "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "DEV_SALT_FILE": "/tmp/salt",
    "POLICY_VERSION": "2026-04",
}


def test_defaults():
    settings = Settings.from_env(BASE)
    assert settings.declined_mode == "drop"
    assert settings.retention_months == 24
    assert settings.user_id_claims[-1] == "oid" and settings.tenant_id_claims[-1] == "tid"
    assert settings.ops_role == "Cetegra.Analytics.Operator"
    assert not settings.running_in_azure


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"POLICY_VERSION": ""}, "POLICY_VERSION"),
        ({"POLICY_VERSION": "has space"}, "POLICY_VERSION"),
        ({"DECLINED_MODE": "keep"}, "DECLINED_MODE"),
        ({"RETENTION_MONTHS": "36"}, "RETENTION_MONTHS"),
        ({"SALT_CACHE_SECONDS": "abc"}, "SALT_CACHE_SECONDS"),
        ({"CORS_ALLOWED_ORIGINS": "*"}, "CORS_ALLOWED_ORIGINS"),
        ({"CORS_ALLOWED_ORIGINS": "https://ok.example/path"}, "CORS_ALLOWED_ORIGINS"),
        ({"ROLE_USER_TYPES": "not json"}, "ROLE_USER_TYPES"),
        ({"ROLE_USER_TYPES": '{"X": "superuser"}'}, "ROLE_USER_TYPES"),
        ({"TABLE_PREFIX": "1bad"}, "TABLE_PREFIX"),
        ({"KEY_VAULT_URL": "http://vault"}, "KEY_VAULT_URL"),
        ({"TABLES_CONNECTION_STRING": ""}, "TABLES_ENDPOINT"),
        ({"TABLES_ENDPOINT": "https://acct.table.core.windows.net"}, "TABLES_ENDPOINT"),
        ({"DEV_SALT_FILE": ""}, "KEY_VAULT_URL"),
        ({"KEY_VAULT_URL": "https://v.vault.azure.net"}, "KEY_VAULT_URL"),
    ],
)
def test_bad_setting_is_named(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({**BASE, **env})


def test_azure_refuses_local_only_settings():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, "WEBSITE_SITE_NAME": "cetegra-analytics"})
    assert "TABLES_CONNECTION_STRING" in str(info.value)
    assert "DEV_SALT_FILE" in str(info.value)


def test_azure_configuration_is_accepted():
    settings = Settings.from_env(
        {
            "WEBSITE_SITE_NAME": "cetegra-analytics",
            "TABLES_ENDPOINT": "https://cetegraanalytics.table.core.windows.net",
            "KEY_VAULT_URL": "https://cetegra-analytics.vault.azure.net",
            "POLICY_VERSION": "2026-04",
            "DECLINED_MODE": "anonymous",
            "CORS_ALLOWED_ORIGINS": "https://workspace.cetegra.com, https://docs.cetegra.com",
            "STAFF_TENANT_IDS": "ce9a1000-57af-4000-8000-000000000001",
        }
    )
    assert settings.running_in_azure
    assert settings.cors_allowed_origins == (
        "https://workspace.cetegra.com",
        "https://docs.cetegra.com",
    )


def test_role_mapping_is_ordered_and_highest_wins():
    settings = Settings.from_env(
        {**BASE, "ROLE_USER_TYPES": '{"Ops.Admin": "it_admin", "Ops.Power": "advanced_user"}'}
    )
    assert user_type_for({"Ops.Power", "Ops.Admin"}, settings) == "it_admin"
    assert user_type_for({"Ops.Power"}, settings) == "advanced_user"
    assert user_type_for({"Cetegra.ITAdmin"}, settings) == "basic_user"


def test_secrets_never_in_error_messages():
    with pytest.raises(SettingsError) as info:
        Settings.from_env(
            {
                **BASE,
                "WEBSITE_SITE_NAME": "x",
                "TABLES_CONNECTION_STRING": "AccountName=a;AccountKey=SECRETKEY",
            }
        )
    assert "SECRETKEY" not in str(info.value)


def test_staff_tenants_are_guids_normalised_like_the_allowed_tenants():
    settings = Settings.from_env(
        {
            **BASE,
            "STAFF_TENANT_IDS": " CE9A1000-57AF-4000-8000-000000000001 ,0d15ea5e-aaaa-bbbb-cccc-ddddeeeeffff",
        }
    )
    assert settings.staff_tenant_ids == (
        "ce9a1000-57af-4000-8000-000000000001",
        "0d15ea5e-aaaa-bbbb-cccc-ddddeeeeffff",
    )
    with pytest.raises(SettingsError, match="STAFF_TENANT_IDS"):
        Settings.from_env({**BASE, "STAFF_TENANT_IDS": "cegal"})


def test_azure_refuses_to_start_without_staff_tenants():
    """Without it every analytics role would be ignored (or, worse, honoured from any tenant)."""
    azure = {
        "WEBSITE_SITE_NAME": "cetegra-analytics",
        "TABLES_ENDPOINT": "https://cetegraanalytics.table.core.windows.net",
        "KEY_VAULT_URL": "https://cetegra-analytics.vault.azure.net",
        "POLICY_VERSION": "2026-04",
    }
    with pytest.raises(SettingsError, match="STAFF_TENANT_IDS"):
        Settings.from_env(azure)
    staff = Settings.from_env({**azure, "STAFF_TENANT_IDS": "ce9a1000-57af-4000-8000-000000000001"})
    assert staff.staff_tenant_ids == ("ce9a1000-57af-4000-8000-000000000001",)
