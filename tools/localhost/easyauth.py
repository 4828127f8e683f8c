"""The Easy Auth stand-in for the demo.

In Azure, App Service Authentication turns its session cookie, or a validated `Authorization: Bearer`
Entra token, into X-MS-CLIENT-PRINCIPAL (the cookie is how `sendBeacon`, which cannot set headers,
is authenticated; the bearer form is how a client on another site, with third-party cookies blocked,
authenticates). Locally the demo's cookie or bearer "token" holds the base64 principal itself. A
request that already sends the header keeps it as-is.
"""

from __future__ import annotations

SESSION_COOKIE = "AppServiceAuthSession"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"


def emulate_easy_auth(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with the principal header taken from a bearer token or the session cookie, if it has none."""
    if any(name.lower() == PRINCIPAL_HEADER.lower() for name in headers):
        return headers
    authorization = next((value for name, value in headers.items() if name.lower() == "authorization"), "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return {**headers, PRINCIPAL_HEADER: credential.strip()}
    cookies = next((value for name, value in headers.items() if name.lower() == "cookie"), "")
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return {**headers, PRINCIPAL_HEADER: value}
    return headers
