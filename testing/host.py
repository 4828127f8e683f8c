"""HTTP routes of a FunctionApp, matched as the Functions host matches them.

The host (ASP.NET Core routing) prefixes every route with host.json's
`extensions.http.routePrefix` ("api" when absent, nothing when ""), compares literal segments
case-insensitively and ignores one trailing slash: `/api/Health` and `/api/health/` reach the
function registered as `api/health`. Route parameters keep the case the client sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

from functions.edge import error_response, with_base_headers
from shared.kernel.errors import AnalyticsError, NotFound

HOST_JSON = Path(__file__).resolve().parents[1] / "host.json"
DEFAULT_ROUTE_PREFIX = "api"


@dataclass(frozen=True)
class Route:
    name: str
    template: str  # as registered with the FunctionApp
    path: str  # what clients call: "/" + route prefix + template
    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    handler: Callable[..., Any]
    arg_name: str


def route_prefix(host_json: Path = HOST_JSON) -> str:
    """host.json's `extensions.http.routePrefix`, as the host reads it ("api" if not set)."""
    if not host_json.exists():
        return DEFAULT_ROUTE_PREFIX
    http = json.loads(host_json.read_text()).get("extensions", {}).get("http", {})
    return str(http.get("routePrefix", DEFAULT_ROUTE_PREFIX)).strip("/")


def compile_template(template: str) -> re.Pattern[str]:
    """Azure Functions route template → regex ({name}, {name:constraint}, {*rest}, {name?}),
    case-insensitive, tolerating one trailing slash."""
    out = ""
    for literal, param in re.findall(r"([^{]*)(\{[^}]*\})?", template.strip("/")):
        out += re.escape(literal)
        if param:
            name = param[1:-1].split(":")[0].rstrip("?")
            out += f"(?P<{name[1:]}>.*)" if name.startswith("*") else f"(?P<{name}>[^/]+)"
    return re.compile(out + r"/?\Z", re.IGNORECASE)


def route_value(raw: str) -> str:
    """A route parameter as the Functions host hands it over: percent-decoded (UTF-8), except an
    encoded slash, which stays `%2F` as in ASP.NET Core's routing."""
    return unquote(re.sub("%2[fF]", "%252F", raw))


def _methods(trigger: Any) -> frozenset[str] | None:
    if not trigger.methods:
        return None
    return frozenset(str(m.value if hasattr(m, "value") else m).upper() for m in trigger.methods)


class Router:
    """Routes of the HTTP-triggered functions of a FunctionApp, read from its registrations."""

    def __init__(self, functions: Iterable[Any], prefix: str | None = None) -> None:
        self.prefix = route_prefix() if prefix is None else prefix.strip("/")
        self.routes: list[Route] = []
        self.timers: list[Any] = []
        for function in functions:
            trigger = function.get_trigger()
            kind = trigger.get_binding_name() if trigger is not None else None
            if kind == "httpTrigger":
                template = trigger.route or function.get_function_name()
                full = "/".join(part for part in (self.prefix, template.strip("/")) if part)
                self.routes.append(
                    Route(
                        name=function.get_function_name(),
                        template=template,
                        path="/" + full,
                        pattern=compile_template(full),
                        methods=_methods(trigger),
                        handler=function.get_user_function(),
                        arg_name=trigger.name,
                    )
                )
            elif kind == "timerTrigger":
                self.timers.append(function)

    @classmethod
    def from_app(cls, app: func.FunctionApp, prefix: str | None = None) -> Router:
        return cls(app.get_functions(), prefix)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `path` (leading slash optional) and its parameters, or None."""
        relative = path.removeprefix("/")
        for route in self.routes:
            found = route.pattern.match(relative)
            if found and (route.methods is None or method.upper() in route.methods):
                return route, {name: route_value(value) for name, value in found.groupdict().items()}
        return None

    def call(self, method: str, url: str, headers: dict[str, str], body: bytes) -> func.HttpResponse:
        """Invoke the function a request maps to, as the Functions host would."""
        parts = urlsplit(url)
        matched = self.match(method, parts.path)
        if matched is None:
            return host_error(NotFound("no such route"))
        route, params = matched
        request = func.HttpRequest(
            method=method.upper(),
            url=url,
            headers=headers,
            params=dict(parse_qsl(parts.query)),
            route_params=params,
            body=body,
        )
        return route.handler(**{route.arg_name: request})


def host_error(exc: AnalyticsError) -> func.HttpResponse:
    """Errors of the host itself (no route, body too large) in the contract's shape and headers."""
    return with_base_headers(error_response(exc))


def encode_response(response: func.HttpResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body as the Python worker's HttpResponseConverter would send them."""
    headers = dict(response.headers.items())
    if not any(name.lower() == "content-type" for name in headers):
        mimetype = response.mimetype or "text/plain"
        headers["Content-Type"] = (
            f"{mimetype}; charset={response.charset}" if mimetype.startswith("text/") else mimetype
        )
    body = response.get_body() or b""
    return response.status_code, list(headers.items()), body
