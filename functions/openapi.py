"""GET /api/openapi.json: the OpenAPI 3.1 document, generated from the models and the routes."""

from __future__ import annotations

from typing import Any

from functions.edge import ApiRequest, Endpoint, blueprint

bp = blueprint()
openapi = Endpoint(bp, "api/openapi.json", "openapi")


@openapi.operation("GET", summary="This document", auth="public")
def document(request: ApiRequest) -> dict[str, Any]:
    from functions.openapi_document import build_document  # after every blueprint module registered

    return build_document()
