"""The report page for the browser tests, served by the Azure Function's own handler.

`python client/test/reports_server.py PORT` answers `/reports/...` through
`functions.reports_page.serve`, so the page runs under exactly the headers (CSP included) that
Azure sends; every other path is a 404 (the tests intercept `/api/reports/*` in the browser).
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import azure.functions as func

from functions.reports_page import serve
from testing.server import write_response


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silent: no access log."""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/reports" or parts.path.startswith("/reports/"):
            request = func.HttpRequest(
                method=self.command,
                url=f"http://127.0.0.1{self.path}",
                headers=dict(self.headers.items()),
                params=dict(parse_qsl(parts.query)),
                route_params={"path": parts.path.removeprefix("/reports").removeprefix("/")},
                body=b"",
            )
            response = serve(request)
            status, headers, body = response.status_code, list(response.headers.items()), response.get_body()
        else:
            status, headers, body = 404, [("Content-Type", "text/plain")], b"not found"
        write_response(self, status, headers, body)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    server.serve_forever()
