"""Structured logging that cannot carry personal data.

Each log line is one JSON object: an event name plus scalar fields. Field names that would carry
what the policy says is never collected (user ids, e-mails, IPs, user agents, referrers, bodies,
tokens) are refused outright, so a careless call fails in tests instead of leaking in production.
"""

from __future__ import annotations

import json
import logging

FORBIDDEN_FIELDS = frozenset(
    {
        "user_id",
        "userid",
        "oid",
        "tenant_id",
        "tid",
        "email",
        "mail",
        "name",
        "upn",
        "ip",
        "client_ip",
        "x_forwarded_for",
        "user_agent",
        "referer",
        "referrer",
        "body",
        "payload",
        "token",
        "principal",
        "headers",
        "cookie",
        "session_id",
        "page",
    }
)

Scalar = str | int | float | bool | None


def log(logger: logging.Logger, level: int, event: str, **fields: Scalar) -> None:
    """Write one structured line, e.g. log(LOG, INFO, "consent.updated", status="granted")."""
    leaked = FORBIDDEN_FIELDS.intersection(key.lower() for key in fields)
    if leaked:
        raise ValueError(f"refusing to log personal-data fields: {sorted(leaked)}")
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": event, **fields}, separators=(",", ":"), default=str))


def quiet_azure_sdk() -> None:
    """The SDKs' HTTP logging policy writes request URLs (with table keys) at INFO: keep it out."""
    for name in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
