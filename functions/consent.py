"""GET/PUT /api/consent: the caller's own consent decision; identity comes from the principal."""

from __future__ import annotations

from functions.edge import ApiRequest, Endpoint, blueprint
from shared.privacy.consent import ConsentDecision, ConsentView

bp = blueprint()
consent = Endpoint(bp, "api/consent", "consent")


@consent.operation(
    "GET",
    summary="Read the caller's consent and whether to show the dialog",
    response=ConsentView,
    errors=(401, 503),
)
def read(request: ApiRequest) -> ConsentView:
    return request.services.consent.view(request.user)


@consent.operation(
    "PUT",
    summary="Record the caller's consent decision (with history)",
    body=ConsentDecision,
    response=ConsentView,
    errors=(400, 401, 413, 415, 503),
)
def decide(request: ApiRequest) -> ConsentView:
    return request.services.consent.decide(request.user, request.body)
