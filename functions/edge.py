"""The HTTP edge, written once for every route: principal, CORS, body limits, errors, headers.

A route module declares an `Endpoint` (one Azure Function per route) and its operations; this
module turns each request into: method check → principal → role → query → content type (every
state-changing method, body or not) → size → schema → handler → JSON (or CSV for report tables
asked for with `Accept: text/csv`). Domain errors carry their status (shared/kernel/errors.py) and are
rendered here in the contract's shape; anything unexpected is a 500 without a stack trace.
Nothing here logs headers, bodies or identities. `ENDPOINTS` is documentation metadata for the
OpenAPI document; routing itself is the FunctionApp's (the host and tools/localhost/ both read
the registered functions).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from pydantic import BaseModel, ValidationError
from pydantic_core.core_schema import ErrorType

from shared.kernel import telemetry
from shared.kernel.errors import (
    AnalyticsError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from shared.kernel.logs import log
from shared.kernel.settings import Settings
from shared.privacy.audit import new_audit_id
from shared.privacy.identity import (
    PRINCIPAL_HEADER,
    Principal,
    RoleKind,
    may,
    principal_from_header,
    role_names,
)
from shared.services import Services, services

LOG = logging.getLogger("cetegra.http")

Auth = Literal["public", "user", "ops"]
"""Who may call: anyone, any signed-in principal (narrowed by an operation's `roles`), operators."""
BUILTIN_ERROR_TYPES = frozenset(get_args(ErrorType))
JSON = "application/json"
CSV = "text/csv"
MAX_BODY = 4096
"""A request body's size limit in bytes, unless an operation names its own."""
BASE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
PREFLIGHT_HEADERS = ("content-type", "authorization")
"""Request headers a browser may send cross-origin; the principal header is set by Easy Auth only."""
EXPOSED_HEADERS = ("Retry-After",)
"""Response headers a script on another origin may read (CORS exposes only the safelisted ones):
the seconds to wait after a 429 or 503, which the web clients honour."""
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods that change state. Each needs one of its operation's content types (JSON; the events
route also text/plain), an empty body included: a browser sends a cross-site request without a
CORS preflight only as text/plain, a form or a beacon, so such a request can never change
anything here, whatever cookie it carries."""


def blueprint() -> func.Blueprint:
    """A Blueprint for one route module (azure-functions does not type its constructor)."""
    return func.Blueprint()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Reply:
    """A handler result whose status is decided at run time (health: 200 or 503)."""

    status: int
    payload: Any
    retry_after: int | None = None


@dataclass(frozen=True)
class ApiRequest:
    """What a handler may see: never raw headers, IPs or the unparsed body."""

    principal: Principal | None
    body: Any
    received_at: datetime
    services: Services
    audit_id: str | None = None
    """Set on audited (ops) routes: the id of the audit record this call will write."""
    route: Mapping[str, str] = field(default_factory=dict)
    """Values of the route template's parameters, e.g. `{id}`."""
    query: Any = None
    """The validated query-string model of operations that declare one (typed like `body`)."""

    @property
    def user(self) -> Principal:
        assert self.principal is not None, "operation declared auth='public'"
        return self.principal


Handler = Callable[[ApiRequest], BaseModel | Reply | dict[str, Any]]
AuditTarget = Callable[[ApiRequest, Any], str]
"""What an audited call acted on (shared/privacy/audit.py's `kind:value` targets), from its validated
request and its result as JSON (None when the call failed); asked only once the request was
read, so a call refused before that is recorded without one."""


@dataclass(frozen=True)
class Operation:
    method: str
    handler: Handler
    summary: str
    auth: Auth
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    content_types: tuple[str, ...]
    max_body: int
    errors: tuple[int, ...] = field(default=())
    roles: tuple[RoleKind, ...] = field(default=())
    """Any one of these roles (or the ops role) is needed; empty: any signed-in principal."""
    query: type[BaseModel] | None = None
    csv_rows: str | None = None
    """Name of the response's list of flat rows that `Accept: text/csv` returns as CSV."""
    audit_target: AuditTarget | None = None
    """On an audited endpoint: what the call acted on, for the audit record's `target`."""
    audit_source: AuditTarget | None = None
    """On an audited endpoint: what the target was made from (a duplicate's original), for the
    audit record's `source`."""


@dataclass
class _Call:
    """What one call learned on its way, for the audit record."""

    audit_id: str | None
    principal: Principal | None = None
    request: ApiRequest | None = None
    result: Any = None


ENDPOINTS: dict[str, Endpoint] = {}


class Endpoint:
    """One route = one Azure Function that accepts every method and answers 405 itself.

    Registering all methods lets wrong methods get the contract's JSON 405 (the host would
    otherwise answer a bare 404) and lets CORS preflights reach the app.
    """

    def __init__(self, blueprint: func.Blueprint, route: str, name: str, *, audited: bool = False) -> None:
        self.route = route
        self.path = "/" + route  # host.json's routePrefix is "": the route is the whole path
        self.name = name
        self.audited = audited
        self.operations: dict[str, Operation] = {}
        ENDPOINTS[route] = self

        def dispatch(req: func.HttpRequest) -> func.HttpResponse:
            return self.dispatch(req)

        dispatch.__name__ = name
        dispatch.__qualname__ = name
        blueprint.function_name(name)(
            blueprint.route(route=route, methods=None, auth_level=func.AuthLevel.ANONYMOUS)(dispatch)
        )

    def operation(
        self,
        method: str,
        *,
        summary: str,
        auth: Auth = "user",
        body: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        content_types: tuple[str, ...] = (JSON,),
        max_body: int = MAX_BODY,
        errors: tuple[int, ...] = (),
        roles: tuple[RoleKind, ...] = (),
        query: type[BaseModel] | None = None,
        csv_rows: str | None = None,
        audit_target: AuditTarget | None = None,
        audit_source: AuditTarget | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations[method] = Operation(
                method,
                handler,
                summary,
                auth,
                body,
                response,
                status,
                content_types,
                max_body,
                errors,
                roles,
                query,
                csv_rows,
                audit_target,
                audit_source,
            )
            return handler

        return register

    # ---- request pipeline ----------------------------------------------------------------------

    def dispatch(self, req: func.HttpRequest) -> func.HttpResponse:
        started = time.perf_counter()
        method = req.method.upper()
        origin = req.headers.get("origin")
        svc: Services | None = None
        call = _Call(audit_id=new_audit_id() if self.audited else None)
        preflight = method == "OPTIONS" and bool(req.headers.get("access-control-request-method"))
        try:
            svc = services()
            if preflight:
                response = self._preflight(req, origin, svc.settings)
            else:
                response = self._invoke(req, method, svc, call)
        except AnalyticsError as exc:
            response = error_response(exc)
        except Exception as exc:  # the contract: never a stack trace to the client
            log(
                LOG,
                logging.ERROR,
                "http.unhandled",
                route=self.route,
                method=method,
                error=type(exc).__name__,
            )
            response = error_response(AnalyticsError("internal error"))
        if call.audit_id is not None and svc is not None and not preflight:
            response = self._audit(svc, call, method, response)
        with_base_headers(response)
        if origin:
            response.headers["Vary"] = "Origin"
            if svc is not None and origin in svc.settings.cors_allowed_origins:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Access-Control-Allow-Credentials"] = "true"
                response.headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        log(
            LOG,
            logging.INFO,
            "http.request",
            route=self.route,
            method=method,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response

    def _audit(
        self, svc: Services, call: _Call, method: str, response: func.HttpResponse
    ) -> func.HttpResponse:
        """Every ops call leaves a record; if it cannot be written the call is reported as 503."""
        assert call.audit_id is not None
        op = self.operations.get(method)
        target = source = ""
        if op is not None and call.request is not None:
            if op.audit_target is not None:
                target = op.audit_target(call.request, call.result)
            if op.audit_source is not None:
                source = op.audit_source(call.request, call.result)
        try:
            svc.audit.record(
                call.audit_id,
                f"{method} {self.path}",
                call.principal,
                response.status_code,
                call.result,
                target,
                source,
            )
        except ServiceUnavailable as exc:
            return error_response(exc)
        return response

    def _invoke(self, req: func.HttpRequest, method: str, svc: Services, call: _Call) -> func.HttpResponse:
        op = self.operations.get(method)
        if op is None:
            raise MethodNotAllowed(f"{method} is not allowed on {self.path}", allow=self.allow)
        principal = None
        if op.auth != "public":
            principal = call.principal = principal_from_header(
                req.headers.get(PRINCIPAL_HEADER), svc.settings
            )
            if op.auth == "ops" and not principal.has_role(svc.settings.ops_role):
                raise Forbidden("this operation needs the analytics operator role")
            if op.roles and not may(principal, op.roles, svc.settings):
                raise Forbidden(f"this operation needs one of the roles {role_names(op.roles, svc.settings)}")
        query = parse_query(req, op.query) if op.query is not None else None
        if method in STATE_CHANGING:
            require_content_type(req, op.content_types)
        body = parse_body(req, op) if op.body is not None else None
        request = call.request = ApiRequest(
            principal,
            body,
            svc.clock(),
            svc,
            call.audit_id,
            route=dict(req.route_params or {}),
            query=query,
        )
        result = op.handler(request)
        if call.audit_id is not None:  # only audited (ops) calls keep their counts for the record
            payload = result.payload if isinstance(result, Reply) else result
            call.result = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        if isinstance(result, Reply):
            response = json_response(result.status, result.payload)
            if result.retry_after is not None:
                response.headers["Retry-After"] = str(result.retry_after)
            return response
        if op.csv_rows is not None and wants_csv(req.headers.get("accept")):
            assert isinstance(result, BaseModel)
            annotation = type(result).model_fields[op.csv_rows].annotation
            return csv_response(op.status, getattr(result, op.csv_rows), get_args(annotation)[0])
        return json_response(op.status, result)

    def _preflight(self, req: func.HttpRequest, origin: str | None, settings: Settings) -> func.HttpResponse:
        if not origin or origin not in settings.cors_allowed_origins:
            raise Forbidden("origin is not allowed", code="cors_origin_not_allowed")
        requested = (req.headers.get("access-control-request-method") or "").upper()
        if requested not in self.operations:
            raise MethodNotAllowed(f"{requested} is not allowed on {self.path}", allow=self.allow)
        response = func.HttpResponse(status_code=204)
        response.headers["Access-Control-Allow-Methods"] = ", ".join(self.operations)
        response.headers["Access-Control-Allow-Headers"] = ", ".join(PREFLIGHT_HEADERS)
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    @property
    def allow(self) -> tuple[str, ...]:
        return (*self.operations, "OPTIONS")


def require_content_type(req: func.HttpRequest, accepted: tuple[str, ...]) -> None:
    """415 unless the request says it is one of `accepted` in UTF-8 (see STATE_CHANGING)."""
    content_type = req.headers.get("content-type") or ""
    media, _, params = content_type.partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') if params.strip() else "utf-8"
    if media.strip().lower() not in accepted or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"send the body as {' or '.join(accepted)} (UTF-8), also when it is empty")


def parse_body(req: func.HttpRequest, op: Operation) -> BaseModel:
    """Size → JSON → schema, after the content type (`require_content_type`). Nothing is stored
    before all of it has passed."""
    assert op.body is not None
    raw = req.get_body() or b""
    if not raw and not any(f.is_required() for f in op.body.model_fields.values()):
        return op.body()  # e.g. `POST /api/ops/retention/run` with an empty JSON body means `{}`
    if len(raw) > op.max_body:
        raise PayloadTooLarge(f"body exceeds {op.max_body} bytes")
    try:
        return op.body.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def parse_query(req: func.HttpRequest, model: type[BaseModel]) -> BaseModel:
    """Query parameters → model; a bad, empty, repeated or unknown parameter is a 400 naming it.

    Read from the URL itself, so `?to=` is the empty value it is (hosts differ on blank values)."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(urlsplit(req.url).query, keep_blank_values=True):
        if name in params:
            raise BadRequest(f"{name} is given twice", code="invalid_value", field=name)
        params[name] = value
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise validation_error(exc) from None


def wants_csv(accept: str | None) -> bool:
    """`Accept: text/csv` (alone or preferred to JSON) asks a report for CSV."""
    if not accept:
        return False
    media = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return CSV in media and (JSON not in media or media.index(CSV) < media.index(JSON))


def csv_response(status: int, rows: list[BaseModel], row_model: type[BaseModel]) -> func.HttpResponse:
    """A header row of the row fields, then one line per row (lists joined with `;`, a margin-of-
    error object as `field=moe;...`, a hidden row's counts empty beside `hidden` = true). Cells
    that start like a formula get a leading apostrophe, so a spreadsheet never evaluates them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    fields = [f.alias or name for name, f in row_model.model_fields.items()]
    writer.writerow(fields)
    for row in rows:
        data = row.model_dump(mode="json", by_alias=True)
        writer.writerow([_csv_cell(data[name]) for name in fields])
    return func.HttpResponse(
        body=out.getvalue(), status_code=status, headers={"Content-Type": "text/csv; charset=utf-8"}
    )


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ";".join("" if v is None else str(v) for v in value)
    elif isinstance(value, dict):
        value = ";".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    if text[:1] in ("=", "+", "-", "@") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validation_error(exc: ValidationError) -> BadRequest:
    """The first schema error as a 400 whose `field` is the JSON path of the offending value."""
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        return BadRequest("body is not valid JSON", code="invalid_json")
    path = json_path(first["loc"])
    if kind == "extra_forbidden":
        return BadRequest(f"unknown field {path}", code="unknown_field", field=path)
    if kind == "missing":
        return BadRequest(f"missing field {path}", code="missing_field", field=path)
    if not path:
        return BadRequest(f"body: {first['msg']}", code="invalid_body")
    message = first["msg"].removeprefix("Value error, ")
    # Domain rules raise PydanticCustomError with their own code (e.g. unknown_event_name).
    code = "invalid_value" if kind in BUILTIN_ERROR_TYPES else kind
    return BadRequest(f"{path}: {message}", code=code, field=path)


def json_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def json_response(status: int, payload: BaseModel | dict[str, Any] | None) -> func.HttpResponse:
    if status == 204:
        return func.HttpResponse(status_code=204)
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json(by_alias=True)
    else:
        body = json.dumps(payload, separators=(",", ":"), default=str)
    return func.HttpResponse(
        body=body, status_code=status, headers={"Content-Type": "application/json; charset=utf-8"}
    )


def with_base_headers(response: func.HttpResponse) -> func.HttpResponse:
    """The headers every response carries (contract: no-store, nosniff)."""
    for name, value in BASE_HEADERS.items():
        response.headers[name] = value
    return response


def error_response(exc: AnalyticsError) -> func.HttpResponse:
    telemetry.error(exc)
    response = json_response(exc.status, exc.body())
    if exc.retry_after_seconds is not None:  # 503 and 429
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.allow)
    return response
