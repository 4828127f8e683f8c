"""Health: each dependency checked on its own, reported as ok/unavailable and nothing more."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from shared.kernel.errors import ServiceUnavailable

if TYPE_CHECKING:
    from shared.services import Services

Check = Literal["ok", "unavailable"]


class HealthChecks(BaseModel):
    storage: Check
    salt: Check


class HealthReport(BaseModel):
    model_config = ConfigDict(title="HealthReport")

    status: Literal["ok", "unavailable"]
    checks: HealthChecks

    @classmethod
    def of(cls, services: Services) -> HealthReport:
        storage = _probe(services.storage.ping)
        salt = _probe(services.pseudonymizer.check)
        ok = storage == "ok" and salt == "ok"
        return cls(status="ok" if ok else "unavailable", checks=HealthChecks(storage=storage, salt=salt))


def _probe(check: Callable[[], None]) -> Check:
    try:
        check()
    except ServiceUnavailable:
        return "unavailable"
    return "ok"
