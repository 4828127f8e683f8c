"""The local host's launcher (`python -m tools.localhost`, `make run`): the testing kit's server
(`testing/server.py`) with the local host's static files and Easy Auth stand-in in front.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from testing import server
from testing.azurite import Azurite, port_in_use
from testing.host import Router
from testing.server import Response
from tools.localhost.easyauth import auth_endpoint, emulate_easy_auth
from tools.localhost.schedule import run_timers
from tools.localhost.static import static_file

ROOT = Path(__file__).resolve().parents[2]


def front(path: str) -> Response | None:
    """The sign-in pages of the Easy Auth stand-in, then the web client's files (local only)."""
    return auth_endpoint(path) or static_file(urlsplit(path).path)


def make_handler(router: Router, port: int) -> type[BaseHTTPRequestHandler]:
    return server.make_handler(router, port, front, emulate_easy_auth)


def serve(router: Router, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """The local host over `router` on a daemon thread (`shutdown()` stops it)."""
    return server.serve(router, port, host, front, emulate_easy_auth)


LOCAL_CADENCE = {
    "SURVEY_FIRST_DAY": "1",
    "SURVEY_INTERVAL_DAYS": "0",
    "SURVEY_PAUSE_AFTER_ANSWER_DAYS": "0",
    "SURVEY_PAUSE_AFTER_DISMISS_DAYS": "0",
}
"""Locally, surveys are asked without a cadence, so the demo's NPS prompt shows at once and the
browser tests can prompt a fresh user (Azure uses the template's cadence; a local setting or
environment variable overrides these)."""


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
        **LOCAL_CADENCE,
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
        httpd = ThreadingHTTPServer((args.host, args.port), make_handler(router, args.port))
        httpd.daemon_threads = True
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
            httpd.serve_forever()
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
        finally:
            stop.set()
            httpd.server_close()
        return 0
    finally:
        azurite.stop()
