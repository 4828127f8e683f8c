"""Structured logging that cannot carry personal data.

Each event is one log record: a readable message (`retention.run oldest_kept_day=2024-11-27
removed_periods=1`) and the same fields as record attributes, which the Azure Monitor
OpenTelemetry exporter sends as Application Insights custom dimensions (`customDimensions.event`,
`customDimensions.removed_periods`), so the workbook and alerts query fields instead of parsing
text. Field names that would carry what the policy says is never collected (user and tenant ids,
pages, session ids, e-mails, IPs, user agents, referrers, bodies, tokens, comments) are refused
outright, also in their dotted OpenTelemetry spellings (`session.id`, `client.address`,
`user_agent.original`), so a careless call fails in tests instead of leaking in production.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

FORBIDDEN_FIELDS = frozenset(
    {
        "user_id",
        "userid",
        "oid",
        "tenant_id",
        "tenantid",
        "tid",
        "tenant",
        "tenant_ref",
        "pseudonym",
        "consent_key",
        "operator_ref",
        "audit_ref",
        "enduser_id",
        "enduser_pseudo_id",
        "email",
        "e_mail",
        "mail",
        "name",
        "upn",
        "ip",
        "client_ip",
        "client_address",
        "x_forwarded_for",
        "user_agent",
        "useragent",
        "referer",
        "referrer",
        "body",
        "payload",
        "token",
        "principal",
        "headers",
        "cookie",
        "session_id",
        "sessionid",
        "page",
        "url",
        "comment",
    }
)
"""Refused as a whole field name (after lower-casing and turning `.` and `-` into `_`)."""

FORBIDDEN_PARTS = (
    ("user", "id"),
    ("tenant", "id"),
    ("session", "id"),
    ("user", "agent"),
    ("ip",),
    ("address",),
    ("email",),
    ("mail",),
    ("token",),
    ("body",),
    ("page",),
    ("comment",),
    ("cookie",),
    ("referer",),
    ("referrer",),
    ("url",),
)
"""Refused anywhere inside a field name as whole words: `client_ip`, `http.client_ip`,
`user_agent.original`, `enduser.id` (ends in user id once split), `comment_text`."""

RESERVED = frozenset(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message", "asctime"}
"""Attributes every LogRecord already has: a field of that name would overwrite it."""

Scalar = str | int | float | bool | None

_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=4096)
def refused(key: str) -> bool:
    """True if a field of this name could carry personal data.

    Cached per name: a pure function of the key, and every request logs the same handful of field
    names, so the word split and part search run once per name instead of on every log call
    (that was ~7% of a single-event request's CPU). Bounded, so odd names cannot grow it."""
    normal = key.lower().replace(".", "_").replace("-", "_")
    if normal in FORBIDDEN_FIELDS:
        return True
    words = _words(normal)
    return any(
        words[i : i + len(part)] == part
        for part in FORBIDDEN_PARTS
        for i in range(len(words) - len(part) + 1)
    )


def _words(normal: str) -> tuple[str, ...]:
    """Split on non-letters, and `enduser` into `end`, `user`, so `enduser.id` reads as user id."""
    words: list[str] = []
    for word in _WORD.findall(normal):
        glued = next((g for g in ("user", "session", "tenant") if word.endswith(g) and word != g), None)
        words.extend((word[: -len(glued)], glued) if glued else (word,))
    return tuple(words)


def log(logger: logging.Logger, level: int, event: str, **fields: Scalar) -> None:
    """Write one structured event, e.g. log(LOG, INFO, "consent.changed", status="granted")."""
    if fields:
        _check_names(tuple(fields))
    if logger.isEnabledFor(level):
        text = " ".join(f"{key}={_text(value)}" for key, value in fields.items())
        # None is left out of the dimensions: OpenTelemetry attributes cannot hold it.
        extra = {"event": event, **{key: value for key, value in fields.items() if value is not None}}
        logger.log(level, f"{event} {text}" if text else event, extra=extra)


@lru_cache(maxsize=1024)
def _check_names(keys: tuple[str, ...]) -> None:
    """Refuse personal-data and reserved field names. Cached per call site's tuple of names (a
    call passes the same keywords every time), so the hot path pays one lookup per log call;
    a refusal raises, and exceptions are never cached, so a bad name fails on every call."""
    leaked = sorted(key for key in keys if refused(key))
    if leaked:
        raise ValueError(f"refusing to log personal-data fields: {leaked}")
    clash = RESERVED.intersection(keys)
    if clash:
        raise ValueError(f"field names reserved by logging: {sorted(clash)}")


def _text(value: Scalar) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def quiet_azure_sdk() -> None:
    """The SDKs' HTTP logging policy writes request URLs (with table keys) at INFO: keep it out."""
    for name in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
