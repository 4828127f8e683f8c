"""Report routes (`Cetegra.Analytics.Reader` or the operator role): read-only views of the kept
aggregates, JSON by default and CSV with `Accept: text/csv`. No route ever returns a pseudonym,
session id, event id or raw tenant id: the tables they read hold none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from functions.edge import ApiRequest, Endpoint, blueprint
from shared.privacy.identity import RoleKind
from shared.reporting.coverage import CoverageReport
from shared.reporting.funnels import FunnelsQuery, FunnelsReport
from shared.reporting.markers import MarkerDeletion, MarkerFields, MarkerList, MarkerView
from shared.reporting.queries import (
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
from shared.reporting.tenant_table import TenantTable, TenantTableQuery
from shared.services import Services

bp = blueprint()


class PageStatus(BaseModel):
    """What the report page says above the views: whether the local host is still seeding its
    synthetic demo data (never true in Azure)."""

    model_config = ConfigDict(title="PageStatus")

    demo_seeding: bool


@dataclass(frozen=True)
class Report:
    """One report route: its path under /api/reports/, what it shows, its query and answer models,
    and how the process's services answer it (`shared/services.py`, `shared/reporting/`)."""

    name: str
    summary: str
    query: type[BaseModel] | None
    response: type[BaseModel]
    read: Callable[[Services, Any], BaseModel]
    errors: tuple[int, ...] = (400,)
    csv_rows: str | None = "rows"
    roles: tuple[RoleKind, ...] = ("reader",)


REPORTS = (
    Report(
        "tenants",
        "Tenant keys with their directory names and first day with data",
        None,
        TenantsReport,
        lambda services, _: services.reports.tenants(),
        errors=(),
        csv_rows="tenants",
    ),
    Report(
        "active-users",
        "Distinct active users, sessions and events per day, ISO week or month (DAU/MAU on months)",
        ActiveUsersQuery,
        ActiveUsersReport,
        lambda services, query: services.reports.active_users(query),
    ),
    Report(
        "features",
        "Feature adoption per week or month: users, events and share of the scope's active users",
        FeaturesQuery,
        FeaturesReport,
        lambda services, query: services.reports.features(query),
    ),
    Report(
        "retention",
        "Weekly cohorts (first seen in week W) and how many were active in each of the next 12 weeks",
        RetentionQuery,
        RetentionReport,
        lambda services, query: services.reports.retention(query),
    ),
    Report(
        "onboarding",
        "One tenant week by week since its first event: active users and the features adopted",
        OnboardingQuery,
        OnboardingReport,
        lambda services, query: services.reports.onboarding(query),
        errors=(400, 404),
    ),
    Report(
        "launch",
        "A feature's weekly adoption in the N weeks before and after a launch date",
        LaunchQuery,
        LaunchReport,
        lambda services, query: services.reports.launch(query),
    ),
    Report(
        "funnels",
        "Funnel steps per ISO week: who reached each step in order, within a session and within 7 days",
        FunnelsQuery,
        FunnelsReport,
        lambda services, query: services.funnel_reports.report(query),
        errors=(400, 404),
    ),
    Report(
        "tenant-table",
        "One row per tenant: weekly and monthly active users, their trend, stickiness, last active week",
        TenantTableQuery,
        TenantTable,
        lambda services, query: services.tenant_table.table(query),
    ),
    Report(
        "coverage",
        "Consent coverage: how many people were asked, said yes, said no (released once a month)",
        None,
        CoverageReport,
        lambda services, _: services.coverage.report(),
        errors=(),
    ),
    Report(
        "markers",
        "Launch markers, oldest first, and the latest (the launch view's default)",
        None,
        MarkerList,
        lambda services, _: services.markers.list(),
        errors=(),
        csv_rows="markers",
        roles=("reader", "author"),
    ),
    Report(
        "status",
        "The report page's status: whether demo data is still being seeded (local host only)",
        None,
        PageStatus,
        lambda services, _: PageStatus(demo_seeding=services.tables.status.demo_seeding()),
        errors=(),
        csv_rows=None,
    ),
)
"""Every report route, declared once: a new report is one row here (and the service that
answers it, built in shared/services.py)."""


def _register(report: Report) -> None:
    endpoint = Endpoint(bp, f"api/reports/{report.name}", "reports_" + report.name.replace("-", "_"))

    def answer(request: ApiRequest) -> BaseModel:
        return report.read(request.services, request.query)

    endpoint.operation(
        "GET",
        summary=report.summary,
        roles=report.roles,
        query=report.query,
        response=report.response,
        errors=report.errors,
        csv_rows=report.csv_rows,
    )(answer)


for _report in REPORTS:
    _register(_report)


def marker_acted_on(request: ApiRequest, result: Any) -> str:
    """The marker recorded or deleted (the audit record's target)."""
    marker_id = request.route.get("id") or (result or {}).get("id")
    return f"marker:{marker_id}" if marker_id else ""


markers = Endpoint(bp, "api/markers", "markers", audited=True)


@markers.operation(
    "POST",
    summary="Record a launch marker (a dated note on every report chart); audited",
    roles=("author",),
    body=MarkerFields,
    response=MarkerView,
    status=201,
    errors=(400,),
    audit_target=marker_acted_on,
)
def add_marker(request: ApiRequest) -> MarkerView:
    body: MarkerFields = request.body
    return request.services.markers.add(body)


marker = Endpoint(bp, "api/markers/{id}", "marker", audited=True)


@marker.operation(
    "DELETE",
    summary="Delete a launch marker; audited",
    roles=("author",),
    body=MarkerDeletion,
    response=MarkerView,
    errors=(404,),
    audit_target=marker_acted_on,
)
def delete_marker(request: ApiRequest) -> MarkerView:
    return request.services.markers.delete(request.route["id"])
