"""What the report routes accept and answer: the query models (filters, ranges and their caps) and
the response models, rows and all.

Every response carries the k that each count of people in it obeys ("0 or >= k"): the reports
show counts only, from kept aggregates ("aggregated usage statistics (with no link to individual
users)"), never a pseudonym, session id, event id or raw tenant id.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.settings import USER_TYPES
from shared.reporting.cells import Grain

UserTypeFilter = Literal["it_admin", "advanced_user", "basic_user", "(all)"]
assert set(USER_TYPES) < set(UserTypeFilter.__args__)  # type: ignore[attr-defined]
TENANT_FILTER = r"^(k[0-9a-f]{16}|\(all\)|\*)$"
APP_FILTER = r"^([a-z0-9][a-z0-9_-]{0,39}|\(none\)|\(unlisted\))$"
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
"""Dates a report accepts (far-away dates would only overflow the calendar arithmetic)."""
MAX_DAYS: dict[str, int] = {"day": 400, "week": 7 * 160, "month": 3700}
"""Range caps: ~13 months of days, ~3 years of weeks, ~10 years of months per request."""


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: date | None = Field(
        None,
        alias="from",
        ge=EARLIEST,
        le=LATEST,
        description="First day (YYYY-MM-DD); default: a window before `to`",
    )
    to: date | None = Field(
        None, ge=EARLIEST, le=LATEST, description="Last day (YYYY-MM-DD); default: yesterday (UTC)"
    )
    tenant: str | None = Field(
        None,
        pattern=TENANT_FILTER,
        description="A key from /api/reports/tenants, or `*` for every tenant; default: `(all)` only",
    )
    user_type: UserTypeFilter | None = Field(None, description="Default: every user type and `(all)`")


class ActiveUsersQuery(RangeQuery):
    model_config = ConfigDict(title="ActiveUsersQuery")

    grain: Grain = "day"


class FeaturesQuery(RangeQuery):
    model_config = ConfigDict(title="FeaturesQuery")

    grain: Literal["week", "month"] = "week"
    app: str | None = Field(None, pattern=APP_FILTER, description="Only this app's features")


class RetentionQuery(RangeQuery):
    model_config = ConfigDict(title="RetentionQuery")


class OnboardingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", title="OnboardingQuery")

    tenant: str = Field(pattern=r"^k[0-9a-f]{16}$", description="The tenant key")
    weeks: int = Field(12, ge=1, le=104, description="Weeks from the tenant's first week")


class LaunchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="LaunchQuery")

    feature: str = Field(min_length=1, max_length=512, pattern=r"^[^\x00-\x1f\x7f]+$")
    app: str | None = Field(None, pattern=APP_FILTER)
    day: date = Field(
        alias="date", ge=EARLIEST, le=LATEST, description="Launch day: its ISO week is the first week 'after'"
    )
    weeks: int = Field(4, ge=1, le=26, description="Weeks before and after")
    tenant: str | None = Field(None, pattern=TENANT_FILTER.replace(r"|\*", ""))
    user_type: UserTypeFilter = "(all)"


# ---- responses ------------------------------------------------------------------------------------------


class ActiveRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    active_users: int
    sessions: int
    events: int
    stickiness: float | None = None
    """Week and month rows: mean daily active users / the period's active users (DAU/WAU,
    DAU/MAU), exact: from the period's user-days counted at build time."""


class _PeriodReport(BaseModel):
    """The head of the active-users and features reports: the grain and range they cover and the k
    every count of people in them obeys ("0 or >= k"). (One class, one wire shape for both.)"""

    grain: str
    from_: date = Field(serialization_alias="from")
    to: date
    k: int


class ActiveUsersReport(_PeriodReport):
    model_config = ConfigDict(title="ActiveUsersReport")

    rows: list[ActiveRow]


class FeatureRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    app: str
    feature: str
    users: int
    events: int
    share: float | None
    """users / active users of the same scope and period (None if that count is not shown)."""


class OtherRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    events: int
    """Events of features that fewer than k people used in this scope (not shown one by one)."""


class FeaturesReport(_PeriodReport):
    model_config = ConfigDict(title="FeaturesReport")

    rows: list[FeatureRow]
    other: list[OtherRow]


class CohortRow(BaseModel):
    cohort: str
    tenant: str
    user_type: str
    users: int
    active: list[int]
    """Of `users`, how many were active 1..12 weeks later; 0 also stands for 1..k-1 people."""
    weeks_elapsed: int
    """How many of the 12 weeks have closed (later entries are not known yet)."""


class RetentionReport(BaseModel):
    model_config = ConfigDict(title="RetentionReport")

    from_: date = Field(serialization_alias="from")
    to: date
    k: int
    rows: list[CohortRow]


class TenantRow(BaseModel):
    tenant: str
    name: str | None
    first_seen: date | None


class TenantsReport(BaseModel):
    model_config = ConfigDict(title="TenantsReport")

    tenants: list[TenantRow]


class OnboardingRow(BaseModel):
    week: str
    active_users: int
    sessions: int
    events: int
    features_adopted: int
    new_features: list[str]


class OnboardingReport(BaseModel):
    model_config = ConfigDict(title="OnboardingReport")

    tenant: str
    name: str | None
    first_seen: date | None
    k: int
    rows: list[OnboardingRow]


class LaunchRow(BaseModel):
    week: str
    offset: int
    """Weeks relative to the launch week (0 = the week containing `date`)."""
    phase: Literal["before", "after"]
    users: int
    events: int
    share: float | None


class LaunchSummary(BaseModel):
    users_before: float | None
    users_after: float | None
    share_before: float | None
    share_after: float | None


class LaunchReport(BaseModel):
    model_config = ConfigDict(title="LaunchReport")

    feature: str
    app: str | None
    day: date = Field(serialization_alias="date")
    tenant: str
    user_type: str
    k: int
    rows: list[LaunchRow]
    summary: LaunchSummary
