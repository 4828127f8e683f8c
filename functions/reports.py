"""Report routes (`Cetegra.Analytics.Reader` or the operator role): read-only views of the kept
aggregates, JSON by default and CSV with `Accept: text/csv`. No route ever returns a pseudonym,
session id, event id or raw tenant id: the tables they read hold none."""

from __future__ import annotations

from functions._http import ApiRequest, Endpoint, blueprint
from shared.reports import (
    ActiveUsersQuery,
    ActiveUsersReport,
    FeaturesQuery,
    FeaturesReport,
    LaunchQuery,
    LaunchReport,
    OnboardingQuery,
    OnboardingReport,
    RetentionQuery,
    RetentionReport,
    TenantsReport,
)

bp = blueprint()

tenants = Endpoint(bp, "api/reports/tenants", "reports_tenants")


@tenants.operation(
    "GET",
    summary="Tenant keys with their directory names and first day with data",
    roles=("reader",),
    response=TenantsReport,
    csv_rows="tenants",
)
def list_tenants(request: ApiRequest) -> TenantsReport:
    return request.services.reports.tenants()


active_users = Endpoint(bp, "api/reports/active-users", "reports_active_users")


@active_users.operation(
    "GET",
    summary="Distinct active users, sessions and events per day, ISO week or month (DAU/MAU on months)",
    roles=("reader",),
    query=ActiveUsersQuery,
    response=ActiveUsersReport,
    errors=(400,),
    csv_rows="rows",
)
def get_active_users(request: ApiRequest) -> ActiveUsersReport:
    return request.services.reports.active_users(request.query)


features = Endpoint(bp, "api/reports/features", "reports_features")


@features.operation(
    "GET",
    summary="Feature adoption per week or month: users, events and share of the scope's active users",
    roles=("reader",),
    query=FeaturesQuery,
    response=FeaturesReport,
    errors=(400,),
    csv_rows="rows",
)
def get_features(request: ApiRequest) -> FeaturesReport:
    return request.services.reports.features(request.query)


retention = Endpoint(bp, "api/reports/retention", "reports_retention")


@retention.operation(
    "GET",
    summary="Weekly cohorts (first seen in week W) and how many were active in each of the next 12 weeks",
    roles=("reader",),
    query=RetentionQuery,
    response=RetentionReport,
    errors=(400,),
    csv_rows="rows",
)
def get_retention(request: ApiRequest) -> RetentionReport:
    return request.services.reports.retention(request.query)


onboarding = Endpoint(bp, "api/reports/onboarding", "reports_onboarding")


@onboarding.operation(
    "GET",
    summary="One tenant week by week since its first event: active users and the features adopted",
    roles=("reader",),
    query=OnboardingQuery,
    response=OnboardingReport,
    errors=(400, 404),
    csv_rows="rows",
)
def get_onboarding(request: ApiRequest) -> OnboardingReport:
    return request.services.reports.onboarding(request.query)


launch = Endpoint(bp, "api/reports/launch", "reports_launch")


@launch.operation(
    "GET",
    summary="A feature's weekly adoption in the N weeks before and after a launch date",
    roles=("reader",),
    query=LaunchQuery,
    response=LaunchReport,
    errors=(400,),
    csv_rows="rows",
)
def get_launch(request: ApiRequest) -> LaunchReport:
    return request.services.reports.launch(request.query)
