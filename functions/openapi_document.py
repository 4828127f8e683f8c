"""OpenAPI 3.1 generated from the registered endpoints and their pydantic models.

The paths are exactly the routes registered with the FunctionApp (each `Endpoint` registers its
function and its documentation in the same constructor); the schemas are the models that
validate requests and shape responses, so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from functions.edge import CSV, ENDPOINTS, STATE_CHANGING, Operation

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "Done (no content)",
    400: "Invalid JSON, schema or value",
    401: "No or bad principal",
    403: "Missing role",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused by the current state (e.g. a limit reached)",
    413: "Body too large",
    415: "Unsupported content type",
    429: "Too many events from this principal (see Retry-After)",
    503: "Storage or Key Vault unavailable (see Retry-After)",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(title="ErrorDetail")

    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    model_config = ConfigDict(title="ErrorBody")

    error: ErrorDetail


def error_statuses(op: Operation) -> list[int]:
    statuses = {405, *op.errors}
    if op.auth != "public":
        statuses |= {401, 503}
    if op.auth == "ops" or op.roles:
        statuses.add(403)
    if op.query is not None:
        statuses.add(400)
    if op.body is not None:
        statuses |= {400, 413, 415}
    if op.method in STATE_CHANGING:
        statuses.add(415)  # a JSON content type even without a body (functions/edge.py)
    return sorted(statuses)


Mode = Literal["validation", "serialization"]


PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""Route values are text without control characters (after the host's percent-decoding)."""


def path_parameters(route: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": PRINTABLE},
        }
        for name in re.findall(r"\{([a-z_]+)\}", route)
    ]


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter is absent or a value; a URL cannot carry JSON's null, so the
    model's `X | None` is documented as X (a fuzzer would otherwise send "null" as an invalid
    value, which the URL cannot tell apart from leaving the parameter out)."""
    branches = prop.get("anyOf")
    if not branches or {"type": "null"} not in branches:
        return prop
    rest = [branch for branch in branches if branch != {"type": "null"}]
    out = {key: value for key, value in prop.items() if key not in ("anyOf", "default")}
    return {**out, **rest[0]} if len(rest) == 1 else {**out, "anyOf": rest}


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One parameter per field of the query model, its schema from the model (no free-form extras)."""
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        prop = _without_null(prop)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


@lru_cache(maxsize=1)
def build_document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Mode]] = [(ErrorBody, "serialization")]
    for endpoint in ENDPOINTS.values():
        for op in endpoint.operations.values():
            if op.body is not None:
                models.append((op.body, "validation"))
            if op.response is not None:
                models.append((op.response, "serialization"))
    refs, top = models_json_schema(models, ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel], mode: Mode) -> dict[str, Any]:
        return refs[(model, mode)]

    error_ref = ref(ErrorBody, "serialization")
    paths: dict[str, Any] = {}
    for _route, endpoint in sorted(ENDPOINTS.items()):
        item: dict[str, Any] = {}
        for method, op in endpoint.operations.items():
            success: dict[str, Any] = {"description": STATUS_TEXT.get(op.status, "OK")}
            if op.status == 204:
                pass
            elif op.response is not None:
                success["content"] = {"application/json": {"schema": ref(op.response, "serialization")}}
                if op.csv_rows is not None:
                    success["content"][CSV] = {
                        "schema": {
                            "type": "string",
                            "description": f"With `Accept: text/csv`: a header row of the fields of "
                            f"`{op.csv_rows}`, then one line per row",
                        }
                    }
            else:
                success["content"] = {"application/json": {"schema": {"type": "object"}}}
            responses: dict[str, Any] = {str(op.status): success}
            for status in error_statuses(op):
                responses[str(status)] = {
                    "description": STATUS_TEXT[status],
                    "content": {"application/json": {"schema": error_ref}},
                }
            operation: dict[str, Any] = {
                "operationId": f"{endpoint.name}_{method.lower()}",
                "summary": op.summary,
                "responses": responses,
            }
            if op.auth != "public":
                operation["security"] = [{"easyAuthPrincipal": []}]
            parameters = path_parameters(endpoint.route)
            if op.query is not None:
                parameters += query_parameters(op.query)
            if parameters:
                operation["parameters"] = parameters
            if op.body is not None:
                schema = ref(op.body, "validation")
                operation["requestBody"] = {
                    # A state change always names its content type, so a body is always sent
                    # (`{}` where no field is required; an empty JSON body means the same).
                    "required": method in STATE_CHANGING
                    or any(f.is_required() for f in op.body.model_fields.values()),
                    "content": {media: {"schema": schema} for media in op.content_types},
                }
            item[method.lower()] = operation
        paths[endpoint.path] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cetegra Analytics",
            "version": "1.0.0",
            "description": "Privacy-first usage analytics for Cetegra Workspace. "
            "Reference: docs/api.md in the project.",
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "easyAuthPrincipal": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-MS-CLIENT-PRINCIPAL",
                    "description": "Set by App Service Authentication; base64 JSON of the claims.",
                }
            },
        },
    }
