"""Ops routes (role `Cetegra.Analytics.Operator`, every call audited with what it acted on):
data-subject rights, the timers' work on demand, the tenant directory, and the lookup an auditor
needs to read the audit table."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from functions.edge import ApiRequest, Endpoint, blueprint
from shared.ingestion.catalogues import UnlistedRequest, UnlistedResult
from shared.kernel.errors import BadRequest
from shared.lifecycle.erasure import ErasureRequest, ErasureResult, ExportResult, SubjectRequest
from shared.lifecycle.retention import RetentionResult
from shared.privacy.audit import AuditReferences, days_target, tenant_target
from shared.privacy.tenants import TenantName, TenantNamed
from shared.reporting.aggregates import AggregationRequest, AggregationResult

bp = blueprint()
TENANT_ID = re.compile(r"[^\x00-\x1f\x7f]{1,256}")


class RetentionRequest(BaseModel):
    """Body of `POST /api/ops/retention/run`: `{}` (the cutoff is a setting, never a parameter)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="RetentionRequest")


def subject(request: ApiRequest, result: Any) -> str:
    """Whose data: the subject's keyed reference, never the ids the operator sent."""
    body: SubjectRequest = request.body
    return request.services.audit.subject_target(body.tenant_id, body.user_id)


def days(request: ApiRequest, result: Any) -> str:
    body: AggregationRequest | UnlistedRequest = request.body
    return days_target(body.from_, body.to) if body.from_ is not None and body.to is not None else ""


retention = Endpoint(bp, "api/ops/retention/run", "ops_retention_run", audited=True)


@retention.operation(
    "POST",
    summary="Delete raw events older than the retention cutoff now",
    auth="ops",
    body=RetentionRequest,
    response=RetentionResult,
)
def run_retention(request: ApiRequest) -> RetentionResult:
    return request.services.retention.run()


aggregation = Endpoint(bp, "api/ops/aggregation/run", "ops_aggregation_run", audited=True)


@aggregation.operation(
    "POST",
    summary="Build pending aggregates, or rebuild an inclusive day range",
    auth="ops",
    body=AggregationRequest,
    response=AggregationResult,
    audit_target=days,
)
def run_aggregation(request: ApiRequest) -> AggregationResult:
    body: AggregationRequest = request.body
    return request.services.aggregation.run(body.from_, body.to)


erasure = Endpoint(bp, "api/ops/erasure", "ops_erasure", audited=True)


@erasure.operation(
    "POST",
    summary="Erase one user's raw events (delete or unlink), consent record and notification data",
    auth="ops",
    body=ErasureRequest,
    response=ErasureResult,
    audit_target=subject,
)
def erase(request: ApiRequest) -> ErasureResult:
    body: ErasureRequest = request.body
    done = request.services.erasure.erase(body.user_id, body.tenant_id, body.mode)
    assert request.audit_id is not None
    return ErasureResult(**done, audit_id=request.audit_id)


export = Endpoint(bp, "api/ops/export", "ops_export", audited=True)


@export.operation(
    "POST",
    summary="Export one user's consent record, raw events and notification data (as stored)",
    auth="ops",
    body=SubjectRequest,
    response=ExportResult,
    audit_target=subject,
)
def export_subject(request: ApiRequest) -> ExportResult:
    body: SubjectRequest = request.body
    return request.services.erasure.export(body.user_id, body.tenant_id)


unlisted = Endpoint(bp, "api/ops/catalogue/unlisted", "ops_catalogue_unlisted", audited=True)


@unlisted.operation(
    "POST",
    summary="Per day: how many stored events had an unlisted page or app (counts only, never the text)",
    auth="ops",
    body=UnlistedRequest,
    response=UnlistedResult,
    audit_target=days,
)
def count_unlisted(request: ApiRequest) -> UnlistedResult:
    body: UnlistedRequest = request.body
    return request.services.unlisted.run(body.from_, body.to)


tenant_directory = Endpoint(bp, "api/ops/tenants/{tenant_id}", "ops_tenant_directory", audited=True)


@tenant_directory.operation(
    "PUT",
    summary="Name a tenant in the directory (the response and reports show its stable key only)",
    auth="ops",
    body=TenantName,
    response=TenantNamed,
    audit_target=lambda request, result: tenant_target(result["tenant"]) if result else "",
)
def name_tenant(request: ApiRequest) -> TenantNamed:
    tenant_id = request.route.get("tenant_id", "")
    if not TENANT_ID.fullmatch(tenant_id):
        raise BadRequest(
            "tenant_id must be 1-256 printable characters", code="invalid_value", field="tenant_id"
        )
    return request.services.tenants.name(tenant_id, request.body)


audit_reference = Endpoint(bp, "api/ops/audit/reference", "ops_audit_reference", audited=True)


@audit_reference.operation(
    "POST",
    summary="A known user's audit reference under every enabled salt version, to read the audit table",
    auth="ops",
    body=SubjectRequest,
    response=AuditReferences,
    audit_target=subject,
)
def resolve_reference(request: ApiRequest) -> AuditReferences:
    """Who did what to whom: the audit table holds people only as keyed references (`actor`,
    `subject:` targets). An auditor with a user's Entra ids (from the ticket) asks for that user's
    references and searches the table for them; the lookup is itself recorded."""
    body: SubjectRequest = request.body
    return request.services.audit.references(body.tenant_id, body.user_id)
