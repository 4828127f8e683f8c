"""Report routes (`Cetegra.Analytics.Reader` or the operator role): read-only views of the kept
aggregates, JSON by default and CSV with `Accept: text/csv`. No route ever returns a pseudonym,
session id, event id or raw tenant id: the tables they read hold none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from functions.edge import ApiRequest, Endpoint, blueprint
from shared.privacy.disclosure.releases import Releaser
from shared.reporting.coverage import Coverage, CoverageReport
from shared.reporting.funnels import FunnelBuilder, FunnelReader, FunnelsQuery, FunnelsReport
from shared.reporting.markers import MarkerDeletion, MarkerFields, MarkerList, Markers, MarkerView
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
from shared.reporting.reader import ReportReader
from shared.reporting.tenant_table import TenantTable, TenantTableQuery, TenantTableReader
from shared.services import Services

bp = blueprint()


@dataclass(frozen=True)
class Report:
    """One report route: its path under /api/reports/, what it shows, its query and answer models,
    and the reader's method that answers it (`ReportReader`, `shared/reporting/`)."""

    name: str
    summary: str
    query: type[BaseModel] | None
    response: type[BaseModel]
    read: Callable[[ReportReader, Any], BaseModel]
    errors: tuple[int, ...] = (400,)
    csv_rows: str = "rows"


REPORTS = (
    Report(
        "tenants",
        "Tenant keys with their directory names and first day with data",
        None,
        TenantsReport,
        lambda reader, _: reader.tenants(),
        errors=(),
        csv_rows="tenants",
    ),
    Report(
        "active-users",
        "Distinct active users, sessions and events per day, ISO week or month (DAU/MAU on months)",
        ActiveUsersQuery,
        ActiveUsersReport,
        ReportReader.active_users,
    ),
    Report(
        "features",
        "Feature adoption per week or month: users, events and share of the scope's active users",
        FeaturesQuery,
        FeaturesReport,
        ReportReader.features,
    ),
    Report(
        "retention",
        "Weekly cohorts (first seen in week W) and how many were active in each of the next 12 weeks",
        RetentionQuery,
        RetentionReport,
        ReportReader.retention,
    ),
    Report(
        "onboarding",
        "One tenant week by week since its first event: active users and the features adopted",
        OnboardingQuery,
        OnboardingReport,
        ReportReader.onboarding,
        errors=(400, 404),
    ),
    Report(
        "launch",
        "A feature's weekly adoption in the N weeks before and after a launch date",
        LaunchQuery,
        LaunchReport,
        ReportReader.launch,
    ),
)
"""Every report route, declared once: a new report is one row here (and its reader method)."""


def _register(report: Report) -> None:
    endpoint = Endpoint(bp, f"api/reports/{report.name}", "reports_" + report.name.replace("-", "_"))

    def answer(request: ApiRequest) -> BaseModel:
        return report.read(request.services.reports, request.query)

    endpoint.operation(
        "GET",
        summary=report.summary,
        roles=("reader",),
        query=report.query,
        response=report.response,
        errors=report.errors,
        csv_rows=report.csv_rows,
    )(answer)


for _report in REPORTS:
    _register(_report)


# ---- funnels, the tenant table, consent coverage, launch markers (issue 24) ----------------------
# Their domain objects are small and stateless over the process's tables, so they are put together
# here per call rather than kept in the composition root (shared/services.py).


def funnel_builder(services: Services) -> FunnelBuilder:
    """The nightly funnel build (the funnel timer, the local host and the tests call it)."""
    tables = services.tables
    return FunnelBuilder(tables.events, tables.funnels, services.tenants, services.settings, services.clock)


def coverage(services: Services) -> Coverage:
    settings = services.settings
    releaser = Releaser(settings.aggregate_min_users, noise=settings.release_noise)
    return Coverage(services.tables.coverage, releaser, services.clock)


def markers_of(services: Services) -> Markers:
    return Markers(services.tables.markers, services.clock)


def _funnels(request: ApiRequest) -> FunnelsReport:
    services = request.services
    reader = FunnelReader(services.tables.funnels, services.settings.aggregate_min_users, services.clock)
    return reader.report(request.query)


Endpoint(bp, "api/reports/funnels", "reports_funnels").operation(
    "GET",
    summary="Funnel steps per ISO week: who reached each step in order, within a session and within 7 days",
    roles=("reader",),
    query=FunnelsQuery,
    response=FunnelsReport,
    errors=(400, 404),
    csv_rows="rows",
)(_funnels)


def _tenant_table(request: ApiRequest) -> TenantTable:
    services = request.services
    reader = TenantTableReader(
        services.reports, coverage(services), services.settings.aggregate_min_users, services.clock
    )
    return reader.table(request.query)


Endpoint(bp, "api/reports/tenant-table", "reports_tenant_table").operation(
    "GET",
    summary="One row per tenant: weekly and monthly active users, their trend, stickiness, last active week",
    roles=("reader",),
    query=TenantTableQuery,
    response=TenantTable,
    errors=(400,),
    csv_rows="rows",
)(_tenant_table)


def _coverage(request: ApiRequest) -> CoverageReport:
    return coverage(request.services).report()


Endpoint(bp, "api/reports/coverage", "reports_coverage").operation(
    "GET",
    summary="Consent coverage: how many people were asked, said yes, said no (released once a month)",
    roles=("reader",),
    response=CoverageReport,
    csv_rows="rows",
)(_coverage)


def _markers(request: ApiRequest) -> MarkerList:
    return markers_of(request.services).list()


Endpoint(bp, "api/reports/markers", "reports_markers").operation(
    "GET",
    summary="Launch markers, oldest first, and the latest (the launch view's default)",
    roles=("reader", "author"),
    response=MarkerList,
    csv_rows="markers",
)(_markers)


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
    return markers_of(request.services).add(body)


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
    return markers_of(request.services).delete(request.route["id"])


class PageStatus(BaseModel):
    """What the report page says above the views: whether the local host is still seeding its
    synthetic demo data (never true in Azure)."""

    model_config = ConfigDict(title="PageStatus")

    demo_seeding: bool


def _status(request: ApiRequest) -> PageStatus:
    return PageStatus(demo_seeding=request.services.tables.status.demo_seeding())


Endpoint(bp, "api/reports/status", "reports_status").operation(
    "GET",
    summary="The report page's status: whether demo data is still being seeded (local host only)",
    roles=("reader",),
    response=PageStatus,
)(_status)
