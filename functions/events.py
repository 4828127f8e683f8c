"""POST /api/events: a batch of usage events, consent-checked and minimised, stored all or nothing."""

from __future__ import annotations

from functions.edge import JSON, ApiRequest, Endpoint, blueprint
from shared.ingestion.events import MAX_BATCH_BYTES, EventBatch, IngestResult

bp = blueprint()
events = Endpoint(bp, "api/events", "events")


@events.operation(
    "POST",
    summary="Record usage events (text/plain is accepted for navigator.sendBeacon)",
    body=EventBatch,
    response=IngestResult,
    status=202,
    content_types=(JSON, "text/plain"),
    max_body=MAX_BATCH_BYTES,
    errors=(429,),
)
def record(request: ApiRequest) -> IngestResult:
    return request.services.ingest.accept(request.user, request.body, request.received_at)
