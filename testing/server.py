"""An in-process HTTP server over the registered functions, as the Functions host serves them.

The tests' `server` fixture and the local host (`tools/localhost`, which adds its static files
and Easy Auth stand-in through the two hooks) both serve with it. It never logs client addresses
or request lines (BaseHTTPRequestHandler would).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.kernel.errors import PayloadTooLarge
from testing.host import Router, encode_response, host_error

Response = tuple[int, list[tuple[str, str]], bytes]
Front = Callable[[str], Response | None]
"""Answers a GET/HEAD path itself (status, headers, body), or None to let the functions answer."""
Principal = Callable[[dict[str, str]], dict[str, str]]
"""The request's headers as the functions should see them (e.g. a cookie turned into a principal)."""

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


def make_handler(
    router: Router, port: int, front: Front | None = None, principal: Principal | None = None
) -> type[BaseHTTPRequestHandler]:
    """A handler that answers every method through `router`. `front` may answer a GET or HEAD
    before the functions (the local host's static files and sign-in pages); `principal` may turn
    the request's headers into what the functions see (the local host's Easy Auth stand-in)."""

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
                if front is not None and self.command in ("GET", "HEAD"):
                    static = front(self.path)
                if static is not None:
                    status, headers, body = static
                else:
                    url = f"http://localhost:{port}{self.path}"
                    request_headers = dict(self.headers.items())
                    if principal is not None:
                        request_headers = principal(request_headers)
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


def serve(
    router: Router,
    port: int,
    host: str = "127.0.0.1",
    front: Front | None = None,
    principal: Principal | None = None,
) -> ThreadingHTTPServer:
    """The server over `router`, answering on a daemon thread (`shutdown()` stops it)."""
    httpd = ThreadingHTTPServer((host, port), make_handler(router, port, front, principal))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True, name="localhost").start()
    return httpd
