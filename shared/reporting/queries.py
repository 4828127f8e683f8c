"""What the report routes accept and answer: the query models (filters, ranges and their caps) and
the response models, rows and all.

Every count in a response is a differentially private release read back from storage
(docs/privacy-model.md): a row that can be hidden says so (`hidden`, its numbers null — never 0),
and every shown count carries its 95 % margin of error in `moe`. Each report names the monthly
privacy budget it is part of (`privacy`). Counts only ("aggregated usage statistics (with no link
to individual users)"), never a pseudonym, session id, event id or raw tenant id.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.settings import USER_TYPES
from shared.reporting.cells import Grain

UserTypeFilter = Literal["it_admin", "advanced_user", "basic_user", "(none)", "(all)"]
"""`(none)`: people whose principal carries no user-type role (a row of every release domain)."""
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


class Privacy(BaseModel):
    """The guarantee every number of a report is covered by (docs/privacy-model.md)."""

    model_config = ConfigDict(title="Privacy")

    epsilon: float
    """Per person and calendar month, across every release of that month."""
    delta: float
    mechanism: str = "discrete Gaussian (OpenDP), zero-concentrated DP, user-level"
    threshold: int
    """Shown counts of people are at least this (k); lower noisy counts are hidden."""


Moe = dict[str, float]
"""95 % margin of error per released field of a row (value ± moe covers the exact count 95 % of
the time)."""


class ActiveRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    hidden: bool = False
    """Too few people (after noise) to show: every count is null."""
    active_users: int | None
    sessions: int | None
    events: int | None
    stickiness: float | None = None
    """Week and month rows: mean daily active users / the period's active users (DAU/WAU,
    DAU/MAU), from released values; null unless every day of the period is shown."""
    moe: Moe = Field(default_factory=dict)


class _PeriodReport(BaseModel):
    """The head of the active-users and features reports: the grain and range they cover and the k
    every count of people in them obeys ("0 or >= k"). (One class, one wire shape for both.)"""

    grain: str
    from_: date = Field(serialization_alias="from")
    to: date
    k: int
    privacy: Privacy


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
    moe: Moe = Field(default_factory=dict)


class OtherRow(BaseModel):
    period: str
    tenant: str
    user_type: str
    events: int
    """Events of features not shown one by one in this scope: the scope's released events minus
    its shown features' (post-processing, at least 0)."""
    moe: Moe = Field(default_factory=dict)


class FeaturesReport(_PeriodReport):
    model_config = ConfigDict(title="FeaturesReport")

    rows: list[FeatureRow]
    other: list[OtherRow]


class CohortRow(BaseModel):
    cohort: str
    tenant: str
    user_type: str
    hidden: bool = False
    """The cohort's size is too small to show: `users` and every `active` entry are null."""
    users: int | None
    active: list[int | None]
    """Of `users`, how many were active 1..12 weeks later; null: hidden, or not known yet."""
    moe: Moe = Field(default_factory=dict)
    weeks_elapsed: int
    """How many of the 12 weeks have closed (later entries are not known yet)."""


class RetentionReport(BaseModel):
    model_config = ConfigDict(title="RetentionReport")

    from_: date = Field(serialization_alias="from")
    to: date
    k: int
    privacy: Privacy
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
    hidden: bool = False
    active_users: int | None
    sessions: int | None
    events: int | None
    moe: Moe = Field(default_factory=dict)
    features_adopted: int
    new_features: list[str]


class OnboardingReport(BaseModel):
    model_config = ConfigDict(title="OnboardingReport")

    tenant: str
    name: str | None
    first_seen: date | None
    k: int
    privacy: Privacy
    rows: list[OnboardingRow]


class LaunchRow(BaseModel):
    week: str
    offset: int
    """Weeks relative to the launch week (0 = the week containing `date`)."""
    phase: Literal["before", "after"]
    hidden: bool = False
    """The feature's users that week are too few (after noise) to show, or the week is not
    released yet: users, events and share are null and the averages leave the week out."""
    users: int | None
    events: int | None
    share: float | None
    moe: Moe = Field(default_factory=dict)


class LaunchSummary(BaseModel):
    """Means over the shown weeks only; `hidden_before`/`hidden_after` say how many were left out."""

    users_before: float | None
    users_after: float | None
    share_before: float | None
    share_after: float | None
    hidden_before: int = 0
    hidden_after: int = 0


class LaunchReport(BaseModel):
    model_config = ConfigDict(title="LaunchReport")

    feature: str
    app: str | None
    day: date = Field(serialization_alias="date")
    tenant: str
    user_type: str
    k: int
    privacy: Privacy
    rows: list[LaunchRow]
    summary: LaunchSummary
