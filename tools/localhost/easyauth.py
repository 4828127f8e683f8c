"""The Easy Auth stand-in for the demo.

In Azure, App Service Authentication turns its session cookie into X-MS-CLIENT-PRINCIPAL (which is
how `sendBeacon`, which cannot set headers, is authenticated). Locally the demo's cookie holds the
base64 principal itself. A request that already sends the header keeps it as-is.
"""

from __future__ import annotations

SESSION_COOKIE = "AppServiceAuthSession"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"


def emulate_easy_auth(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the principal header taken from the session cookie, if it has none."""
    if any(name.lower() == PRINCIPAL_HEADER.lower() for name in headers):
        return headers
    cookies = next((value for name, value in headers.items() if name.lower() == "cookie"), "")
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return {**headers, PRINCIPAL_HEADER: value}
    return headers
