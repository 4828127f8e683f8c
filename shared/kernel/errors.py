"""Typed errors that carry their HTTP status and machine-readable code.

Domain code raises; one place (functions/edge.py) renders them as the contract's error body
`{"error": {"code", "message", "field"}}`. Messages never echo request content back.
"""

from __future__ import annotations


class AnalyticsError(Exception):
    """Base of every error the API reports to a client."""

    status: int = 500
    code: str = "internal_error"
    retry_after_seconds: int | None = None
    """Sent as `Retry-After` when set (503, 429)."""

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def body(self) -> dict[str, dict[str, str]]:
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


class BadRequest(AnalyticsError):
    status, code = 400, "invalid_request"


class Unauthenticated(AnalyticsError):
    status, code = 401, "unauthenticated"


class Forbidden(AnalyticsError):
    status, code = 403, "forbidden"


class NotFound(AnalyticsError):
    status, code = 404, "not_found"


class Conflict(AnalyticsError):
    """The request is valid but the current state refuses it (e.g. a monthly limit is reached)."""

    status, code = 409, "conflict"


class MethodNotAllowed(AnalyticsError):
    status, code = 405, "method_not_allowed"

    def __init__(self, message: str, *, allow: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allow = allow


class PayloadTooLarge(AnalyticsError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AnalyticsError):
    status, code = 415, "unsupported_media_type"


class TooManyRequests(AnalyticsError):
    """The caller sent more events than its per-minute allowance; nothing of the batch was stored."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(AnalyticsError):
    """A dependency is down: the client should retry later; nothing was stored."""

    status, code = 503, "service_unavailable"
    retry_after_seconds = 5


class StorageUnavailable(ServiceUnavailable):
    code = "storage_unavailable"


class VaultUnavailable(ServiceUnavailable):
    code = "key_vault_unavailable"
