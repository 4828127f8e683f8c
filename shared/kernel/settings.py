"""Every app setting the service reads, validated once at start-up.

One pydantic model is the single source of truth: the Bicep drift test and the docs read the same
field list. A missing or invalid setting fails with a message that names the app setting, and the
app refuses local-only settings (connection strings with keys, the dev salt) when it runs in Azure,
and refuses to start there without the staff tenants (STAFF_TENANT_IDS).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

UserType = Literal["it_admin", "advanced_user", "basic_user"]
USER_TYPES: tuple[UserType, ...] = ("it_admin", "advanced_user", "basic_user")
"""User types the policy names ("IT Admin, Advanced User, or Basic User"); basic_user is the floor."""

POLICY_VERSION_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")

DEFAULT_USER_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
DEFAULT_TENANT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
DEFAULT_ROLE_USER_TYPES: tuple[tuple[str, UserType], ...] = (
    ("Cetegra.ITAdmin", "it_admin"),
    ("Cetegra.AdvancedUser", "advanced_user"),
)


class SettingsError(RuntimeError):
    """Raised at start-up; the message names each offending app setting."""


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseModel):
    """App settings (environment variables in Azure and in `make run`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    running_in_azure: bool = Field(False, alias="WEBSITE_SITE_NAME")
    """True when App Service sets WEBSITE_SITE_NAME: local-only settings are then refused."""

    tables_connection_string: str | None = Field(None, alias="TABLES_CONNECTION_STRING")
    """Local only (Azurite). Azure uses TABLES_ENDPOINT with the managed identity, never keys."""
    tables_endpoint: str | None = Field(None, alias="TABLES_ENDPOINT")
    table_prefix: str = Field("", alias="TABLE_PREFIX", pattern=r"^([A-Za-z][A-Za-z0-9]{0,19})?$")

    key_vault_url: str | None = Field(None, alias="KEY_VAULT_URL")
    salt_secret_name: str = Field(
        "analytics-pseudonym-salt", alias="SALT_SECRET_NAME", pattern=r"^[0-9A-Za-z-]{1,127}$"
    )
    salt_cache_seconds: int = Field(300, alias="SALT_CACHE_SECONDS", ge=10, le=86_400)
    dev_salt_file: Path | None = Field(None, alias="DEV_SALT_FILE")

    declined_mode: Literal["drop", "anonymous"] = Field("drop", alias="DECLINED_MODE")
    policy_version: str = Field(alias="POLICY_VERSION", pattern=POLICY_VERSION_PATTERN)

    user_id_claims: tuple[str, ...] = Field(DEFAULT_USER_ID_CLAIMS, alias="CLAIM_USER_ID", min_length=1)
    tenant_id_claims: tuple[str, ...] = Field(DEFAULT_TENANT_ID_CLAIMS, alias="CLAIM_TENANT_ID", min_length=1)
    role_user_types: tuple[tuple[str, UserType], ...] = Field(
        DEFAULT_ROLE_USER_TYPES, alias="ROLE_USER_TYPES"
    )
    """Role → user type, highest first (JSON object in the app setting; its key order counts)."""
    ops_role: str = Field("Cetegra.Analytics.Operator", alias="OPS_ROLE", min_length=1)
    reader_role: str = Field("Cetegra.Analytics.Reader", alias="READER_ROLE", min_length=1)
    """May read `/api/reports/*` and survey results (so may the ops role)."""
    author_role: str = Field("Cetegra.Analytics.Author", alias="AUTHOR_ROLE", min_length=1)
    """May write notifications and surveys (`/api/authoring/*`; so may the ops role)."""

    cors_allowed_origins: tuple[str, ...] = Field((), alias="CORS_ALLOWED_ORIGINS")

    event_max_age_hours: int = Field(24, alias="EVENT_MAX_AGE_HOURS", ge=1, le=72)
    event_max_future_seconds: int = Field(300, alias="EVENT_MAX_FUTURE_SECONDS", ge=0, le=3600)

    events_per_minute: int = Field(600, alias="EVENTS_PER_MINUTE", ge=100, le=100_000)
    """Abuse limit per principal and per instance (a token bucket refilled every minute); at least
    one full batch (100 events). Beyond it: 429 with Retry-After."""
    allowed_tenant_ids: tuple[str, ...] = Field((), alias="ALLOWED_TENANT_IDS")
    """Entra tenants (`tid`) whose users may call the API; empty = every tenant Easy Auth lets in.
    In Azure App Service Authentication enforces the same list (WEBSITE_AUTH_AAD_ALLOWED_TENANTS);
    this is the app's own second check (and the one that works beyond the platform's 10 ids)."""
    staff_tenant_ids: tuple[str, ...] = Field((), alias="STAFF_TENANT_IDS")
    """Cegal's own Entra tenant(s): the only tenants whose analytics roles (READER_ROLE,
    AUTHOR_ROLE, OPS_ROLE) count. The app registration is multi-tenant and every customer's admins
    assign its app roles in their own tenant, so a role claimed from a customer tenant proves
    nothing; and the cookie policy says analytics data "is used only by Cegal". Empty: no tenant's
    analytics roles count (local only; required in Azure)."""

    retention_months: int = Field(24, alias="RETENTION_MONTHS", ge=1, le=24)
    """The policy's ceiling: "retained for a maximum of 24 months in raw form"; never more."""
    aggregate_min_users: int = Field(5, alias="AGGREGATE_MIN_USERS", ge=2, le=1000)

    survey_first_day: int = Field(3, alias="SURVEY_FIRST_DAY", ge=1, le=365)
    """Notification cadence: no survey before a user's N-th day, counted from the first day the
    notification centre asked for the user's items (day 1 = that day; 1 = from the start)."""
    survey_interval_days: int = Field(14, alias="SURVEY_INTERVAL_DAYS", ge=0, le=365)
    """At most one survey prompt per this many days per user (0: no limit, every survey offered)."""
    survey_pause_after_answer_days: int = Field(30, alias="SURVEY_PAUSE_AFTER_ANSWER_DAYS", ge=0, le=365)
    """No new survey for this many days after the user answered one."""
    survey_pause_after_dismiss_days: int = Field(14, alias="SURVEY_PAUSE_AFTER_DISMISS_DAYS", ge=0, le=365)
    """No new survey for this many days after the user dismissed one ("don't ask again")."""
    release_noise: bool = Field(True, alias="RELEASE_NOISE")
    """Published numbers are differentially private releases (docs/privacy-model.md). `false` is
    the test kit's exact mode (same shapes and thresholds, no noise): refused in Azure."""

    @field_validator("running_in_azure", mode="before")
    @classmethod
    def _site_name_present(cls, value: Any) -> bool:
        return bool(value)

    @field_validator(
        "user_id_claims",
        "tenant_id_claims",
        "cors_allowed_origins",
        "allowed_tenant_ids",
        "staff_tenant_ids",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("role_user_types", mode="before")
    @classmethod
    def _role_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError("must be a JSON object of role → user type") from exc
            if not isinstance(parsed, dict):
                raise ValueError("must be a JSON object of role → user type")
            return tuple(parsed.items())
        return value

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://host[:port] (no '*')")
        return value

    @field_validator("allowed_tenant_ids", "staff_tenant_ids")
    @classmethod
    def _tenant_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for tenant in value:
            if not _GUID.match(tenant):
                raise ValueError(f"{tenant!r} is not an Entra tenant id (a GUID)")
        return tuple(tenant.lower() for tenant in value)

    @field_validator("key_vault_url", "tables_endpoint")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value

    @model_validator(mode="after")
    def _sources(self) -> Settings:
        problems: list[str] = []
        if bool(self.tables_connection_string) == bool(self.tables_endpoint):
            problems.append("TABLES_ENDPOINT: set exactly one of TABLES_ENDPOINT or TABLES_CONNECTION_STRING")
        if bool(self.key_vault_url) == bool(self.dev_salt_file):
            problems.append("KEY_VAULT_URL: set exactly one of KEY_VAULT_URL or DEV_SALT_FILE")
        if self.running_in_azure:
            if self.tables_connection_string:
                problems.append(
                    "TABLES_CONNECTION_STRING: refused in Azure; use TABLES_ENDPOINT (managed identity)"
                )
            if self.dev_salt_file:
                problems.append("DEV_SALT_FILE: the dev salt is local-only and refused in Azure")
            if not self.release_noise:
                problems.append(
                    "RELEASE_NOISE: refused in Azure; every published number is a differentially "
                    "private release"
                )
            if not self.staff_tenant_ids:
                problems.append(
                    "STAFF_TENANT_IDS: required in Azure: Cegal's own Entra tenant id(s), the only "
                    "tenants whose analytics roles count"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise SettingsError naming every bad app setting."""
        source = os.environ if env is None else env
        aliases = {field.alias for field in cls.model_fields.values() if field.alias}
        values = {name: source[name] for name in aliases if source.get(name, "") != ""}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(message if not error["loc"] else f"{name}: {message}")
    return "invalid app settings: " + "; ".join(lines)


@lru_cache(maxsize=1)
def load() -> Settings:
    """The process-wide settings, validated on first use (the function app calls it at import)."""
    return Settings.from_env()
