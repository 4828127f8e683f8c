"""The Easy Auth stand-in for the demo.

In Azure, App Service Authentication turns its session cookie, or a validated `Authorization: Bearer`
Entra token, into X-MS-CLIENT-PRINCIPAL (the cookie is how `sendBeacon`, which cannot set headers,
is authenticated; the bearer form is how a client on another site, with third-party cookies blocked,
authenticates), and its `/.auth/login/aad?post_login_redirect_uri=...` signs a browser in and
returns it to the page (the report page is opened that way). Locally the demo's cookie or bearer
"token" holds the base64 principal itself, and `/.auth/login/aad` signs in a demo principal named by
the query (`user`, `tenant`, `roles`). A request that already sends the header keeps it as-is.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from functions.edge import BASE_HEADERS
from testing.principal import STAFF_TENANT_ID, principal_header

SESSION_COOKIE = "AppServiceAuthSession"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
LOGIN_PATH = "/.auth/login/aad"
LOGOUT_PATH = "/.auth/logout"
DEMO_READER = ("demo-analyst", STAFF_TENANT_ID, "Cetegra.Analytics.Reader")
"""Who `/.auth/login/aad` signs in when the query names nobody: a product analyst (Reader role) of
Cegal's staff tenant, the one tenant local.settings.json.example lists in STAFF_TENANT_IDS (the
analytics roles count nowhere else)."""

Response = tuple[int, list[tuple[str, str]], bytes]


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


def auth_endpoint(target: str) -> Response | None:
    """Easy Auth's own login/logout paths, or None for any other path. Locally only."""
    url = urlsplit(target)
    if url.path not in (LOGIN_PATH, LOGOUT_PATH):
        return None
    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
    back = query.get("post_login_redirect_uri") or query.get("post_logout_redirect_uri") or "/"
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"  # only paths of this host: an open redirect is what Easy Auth refuses too
    if url.path == LOGOUT_PATH:
        cookie = f"{SESSION_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict; HttpOnly"
    else:
        user = query.get("user", DEMO_READER[0])
        tenant = query.get("tenant", DEMO_READER[1])
        roles = query.get("roles", DEMO_READER[2])
        principal = principal_header(user, tenant, tuple(r for r in roles.split(",") if r), name=None)
        cookie = f"{SESSION_COOKIE}={principal}; Path=/; SameSite=Strict; HttpOnly"
    headers = [("Location", back), ("Set-Cookie", cookie), *BASE_HEADERS.items()]
    return 302, headers, b""
