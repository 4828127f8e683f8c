"""`make run`: the registered functions on http://localhost:7071/api/... with Azurite behind them.

When Azure Functions Core Tools (`func`) is installed, this starts Azurite and hands over to
`func start`. Otherwise it serves the functions itself: the routes are read from the FunctionApp
(`app.get_functions()`, called once), never from a second route table. Ctrl-C stops everything
it started. It never logs client addresses or request lines (BaseHTTPRequestHandler would).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from functions._http import BASE_HEADERS, error_response, with_base_headers
from shared.errors import AnalyticsError, NotFound, PayloadTooLarge

ROOT = Path(__file__).resolve().parent.parent
ROUTE_PREFIX = "/api/"
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Route:
    name: str
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    handler: Callable[..., Any]
    arg_name: str


def _compile(template: str) -> re.Pattern[str]:
    """Azure Functions route template → regex ({name}, {name:constraint}, {*rest}, {name?})."""
    out = ""
    for literal, param in re.findall(r"([^{]*)(\{[^}]*\})?", template):
        out += re.escape(literal)
        if param:
            name = param[1:-1].split(":")[0].rstrip("?")
            out += f"(?P<{name[1:]}>.*)" if name.startswith("*") else f"(?P<{name}>[^/]+)"
    return re.compile(out + r"\Z")


class Router:
    """Routes of the HTTP-triggered functions of a FunctionApp, read from its registrations."""

    def __init__(self, functions: Iterable[func.FunctionApp | Any]) -> None:
        self.routes: list[Route] = []
        self.timers: list[Any] = []
        for function in functions:
            trigger = function.get_trigger()
            kind = trigger.get_binding_name() if trigger is not None else None
            if kind == "httpTrigger":
                methods = trigger.methods
                self.routes.append(
                    Route(
                        name=function.get_function_name(),
                        template=trigger.route or function.get_function_name(),
                        pattern=_compile(trigger.route or function.get_function_name()),
                        methods=frozenset(str(m.value if hasattr(m, "value") else m).upper() for m in methods)
                        if methods
                        else None,
                        handler=function.get_user_function(),
                        arg_name=trigger.name,
                    )
                )
            elif kind == "timerTrigger":
                self.timers.append(function)

    @classmethod
    def from_app(cls, app: func.FunctionApp) -> Router:
        return cls(app.get_functions())

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and (route.methods is None or method in route.methods):
                return route, found.groupdict()
        return None

    def call(self, method: str, url: str, headers: dict[str, str], body: bytes) -> func.HttpResponse:
        """Invoke the function a request maps to, as the Functions host would."""
        parts = urlsplit(url)
        path = parts.path
        if not path.startswith(ROUTE_PREFIX):
            return _error(NotFound("no such route"))
        matched = self.match(method.upper(), path[len(ROUTE_PREFIX) :])
        if matched is None:
            return _error(NotFound("no such route"))
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


def _field(spec: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in spec.split(","):
        body, _, step = part.partition("/")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = end = int(body)
            if step:
                end = high
        values.update(range(start, end + 1, int(step or 1)))
    if not values or min(values) < low or max(values) > high:
        raise ValueError(f"NCRONTAB field {spec!r} is outside {low}-{high}")
    return frozenset(values)


def next_fire(expression: str, after: datetime) -> datetime:
    """Next time an Azure Functions NCRONTAB expression ({second} {minute} {hour} {day} {month}
    {day-of-week}, UTC) fires strictly after `after`: numbers, *, ranges, lists and steps."""
    fields = expression.split()
    if len(fields) != 6:
        raise ValueError(f"NCRONTAB needs 6 fields: {expression!r}")
    second, minute, hour, day, month, weekday = (
        _field(spec, low, high)
        for spec, (low, high) in zip(
            fields, ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)), strict=True
        )
    )
    at = after.replace(microsecond=0) + timedelta(seconds=1)
    for _ in range(500_000):
        if at.month not in month:
            at = (at.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
        elif at.day not in day or (at.weekday() + 1) % 7 not in weekday:
            at = at.replace(hour=0, minute=0, second=0) + timedelta(days=1)
        elif at.hour not in hour:
            at = at.replace(minute=0, second=0) + timedelta(hours=1)
        elif at.minute not in minute:
            at = at.replace(second=0) + timedelta(minutes=1)
        elif at.second not in second:
            at += timedelta(seconds=1)
        else:
            return at
    raise ValueError(f"NCRONTAB {expression!r} never fires")


def run_timers(timers: list[Any], stop: threading.Event) -> None:
    """Fire each registered timer function on its schedule, as the Functions host would."""
    from azure.functions.timer import TimerRequest

    log = logging.getLogger("cetegra.localhost")
    now = datetime.now(UTC)
    due = {t.get_function_name(): next_fire(t.get_trigger().schedule, now) for t in timers}
    by_name = {t.get_function_name(): t for t in timers}
    while not stop.is_set():
        name, when = min(due.items(), key=lambda item: item[1])
        if stop.wait(max(0.0, (when - datetime.now(UTC)).total_seconds())):
            return
        try:
            by_name[name].get_user_function()(TimerRequest(past_due=False))
        except Exception as exc:  # a failed run is logged and retried at the next schedule
            log.error(json.dumps({"event": "timer.failed", "timer": name, "error": type(exc).__name__}))
        due[name] = next_fire(by_name[name].get_trigger().schedule, datetime.now(UTC))


def _error(exc: AnalyticsError) -> func.HttpResponse:
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


CLIENT = ROOT / "client"
STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
}
SESSION_COOKIE = "AppServiceAuthSession"


def static_file(path: str) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The web client and its demo (`/` and `/client/...`): local development only."""
    relative = "demo/index.html" if path in ("/", "/demo", "/demo/") else path.removeprefix("/client/")
    if relative == path:
        return None
    target = (CLIENT / relative).resolve()
    if (
        not target.is_relative_to(CLIENT.resolve())
        or not target.is_file()
        or target.suffix not in STATIC_TYPES
    ):
        return None
    return (
        200,
        [
            ("Content-Type", STATIC_TYPES[target.suffix]),
            *BASE_HEADERS.items(),
        ],
        target.read_bytes(),
    )


def emulate_easy_auth(headers: dict[str, str]) -> dict[str, str]:
    """Easy Auth turns its session cookie into X-MS-CLIENT-PRINCIPAL (which is how sendBeacon,
    which cannot set headers, is authenticated in Azure). Locally the demo's cookie holds the
    base64 principal itself; a request that sends the header keeps it as-is."""
    if any(name.lower() == "x-ms-client-principal" for name in headers):
        return headers
    cookies = next((value for name, value in headers.items() if name.lower() == "cookie"), "")
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return {**headers, "X-MS-CLIENT-PRINCIPAL": value}
    return headers


def make_handler(router: Router, port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cetegra-localhost"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            """Silenced: the default access log writes client IPs and request lines."""

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                status, headers, body = encode_response(_error(PayloadTooLarge("body too large")))
                self.close_connection = True
            else:
                raw = self.rfile.read(length) if length else b""
                static = static_file(urlsplit(self.path).path) if self.command in ("GET", "HEAD") else None
                if static is not None:
                    status, headers, body = static
                else:
                    url = f"http://localhost:{port}{self.path}"
                    request_headers = emulate_easy_auth(dict(self.headers.items()))
                    status, headers, body = encode_response(
                        router.call(self.command, url, request_headers, raw)
                    )
            self.send_response(status)
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def __getattr__(self, name: str) -> Any:
            """Every method reaches the functions (TRACE, PROPFIND, ...), as on the Functions host,
            so the app answers with its JSON 405 instead of the stdlib's HTML 501."""
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

    return Handler


def local_settings() -> dict[str, str]:
    """Values of local.settings.json (or its committed example)."""
    for name in ("local.settings.json", "local.settings.json.example"):
        path = ROOT / name
        if path.exists():
            return {k: str(v) for k, v in json.loads(path.read_text())["Values"].items()}
    return {}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-func", action="store_true", help="serve in-process even if `func` exists")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)

    from tools.azurite import Azurite, port_in_use

    if port_in_use(args.port):
        print(
            f"port {args.port} is already in use: stop the other server or pass --port",
            file=sys.stderr,
        )
        return 2
    use_func = shutil.which("func") is not None and not args.no_func
    azurite = Azurite(("blob", "queue", "table") if use_func else ("table",)).start()
    env = {
        **local_settings(),
        **{k: v for k, v in os.environ.items() if k not in ("WEBSITE_SITE_NAME",)},
    }
    env["TABLES_CONNECTION_STRING"] = azurite.connection_string()
    env["AzureWebJobsStorage"] = azurite.connection_string()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    print(f"Azurite tables on 127.0.0.1:{azurite.ports['table']} (in memory)", file=sys.stderr)
    try:
        if use_func:
            print("Azure Functions Core Tools found: running `func start`", file=sys.stderr)
            process = subprocess.Popen(["func", "start", "--port", str(args.port)], cwd=ROOT, env=env)
            try:
                return process.wait()
            except KeyboardInterrupt:
                process.send_signal(signal.SIGINT)
                return process.wait()
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import function_app

        router = Router.from_app(function_app.app)
        from tools.demo_data import seed_in_background  # synthetic reports data on an empty store

        seed_in_background()
        server = ThreadingHTTPServer((args.host, args.port), make_handler(router, args.port))
        server.daemon_threads = True
        stop = threading.Event()
        threading.Thread(target=run_timers, args=(router.timers, stop), daemon=True, name="timers").start()
        timers = ", ".join(f"{t.get_function_name()} ({t.get_trigger().schedule})" for t in router.timers)
        print(f"Timers scheduled (UTC): {timers}", file=sys.stderr)
        routes = ", ".join(sorted(f"/api/{route.template}" for route in router.routes))
        print(
            f"Serving {len(router.routes)} functions on http://localhost:{args.port}: {routes}",
            file=sys.stderr,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
        finally:
            stop.set()
            server.server_close()
        return 0
    finally:
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
