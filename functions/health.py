"""GET /api/health: is storage reachable and a pseudonym salt available? Reveals no secret."""

from __future__ import annotations

from functions.edge import ApiRequest, Endpoint, Reply, blueprint
from shared.health import HealthReport
from shared.kernel.errors import ServiceUnavailable

bp = blueprint()
health = Endpoint(bp, "api/health", "health")


@health.operation(
    "GET",
    summary="Liveness of storage and the pseudonym salt",
    auth="public",
    response=HealthReport,
    errors=(503,),
)
def check(request: ApiRequest) -> Reply:
    report = HealthReport.of(request.services)
    if report.status == "ok":
        return Reply(200, report)
    return Reply(503, report, retry_after=ServiceUnavailable.retry_after_seconds)
