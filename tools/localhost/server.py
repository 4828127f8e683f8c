"""The local host's HTTP server and launcher (`python -m tools.localhost`, `make run`).

It never logs client addresses or request lines (BaseHTTPRequestHandler would).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.errors import PayloadTooLarge
from testing.azurite import Azurite, port_in_use
from tools.localhost.easyauth import auth_endpoint, emulate_easy_auth
from tools.localhost.routing import Router, encode_response, host_error
from tools.localhost.schedule import run_timers
from tools.localhost.static import static_file

ROOT = Path(__file__).resolve().parents[2]
MAX_BODY = 1024 * 1024


def write_response(
    handler: BaseHTTPRequestHandler, status: int, headers: Iterable[tuple[str, str]], body: bytes
) -> None:
    """Send one response as the Functions host does: the function's headers except its own
    Content-Length, which is set from the body actually sent; a HEAD answer has headers only."""
    handler.send_response(status)
    for name, value in headers:
        if name.lower() != "content-length":
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


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
                status, headers, body = encode_response(host_error(PayloadTooLarge("body too large")))
                self.close_connection = True
            else:
                raw = self.rfile.read(length) if length else b""
                static = None
                if self.command in ("GET", "HEAD"):
                    static = auth_endpoint(self.path) or static_file(urlsplit(self.path).path)
                if static is not None:
                    status, headers, body = static
                else:
                    url = f"http://localhost:{port}{self.path}"
                    request_headers = emulate_easy_auth(dict(self.headers.items()))
                    status, headers, body = encode_response(
                        router.call(self.command, url, request_headers, raw)
                    )
            write_response(self, status, headers, body)

        def __getattr__(self, name: str) -> Any:
            """Every method reaches the functions (TRACE, PROPFIND, ...), as on the Functions host,
            so the app answers with its JSON 405 instead of the stdlib's HTML 501."""
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

    return Handler


def serve(router: Router, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The server over `router`, answering on a daemon thread (`shutdown()` stops it)."""
    httpd = ThreadingHTTPServer((host, port), make_handler(router, port))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True, name="localhost").start()
    return httpd


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
    parser = argparse.ArgumentParser(prog="python -m tools.localhost", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-func", action="store_true", help="serve in-process even if `func` exists")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)

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
        routes = ", ".join(sorted(route.path for route in router.routes))
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
