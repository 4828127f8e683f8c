"""Report routes (`Cetegra.Analytics.Reader` or the operator role): read-only views of the kept
aggregates, JSON by default and CSV with `Accept: text/csv`. No route ever returns a pseudonym,
session id, event id or raw tenant id: the tables they read hold none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from functions.edge import ApiRequest, Endpoint, blueprint
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
