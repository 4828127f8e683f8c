"""Shared benchmark plumbing: a fresh Azurite, counted transports, the registered functions."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.core.pipeline.transport import RequestsTransport

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TABLES_CONNECTION_STRING", "UseDevelopmentStorage=true")
os.environ.setdefault("DEV_SALT_FILE", str(Path(tempfile.gettempdir()) / "cetegra-bench-salt"))
os.environ.setdefault("POLICY_VERSION", "2026-04")


class CountingTransport(RequestsTransport):
    """Counts every HTTP request the Table SDK sends (each is one storage transaction)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent = 0

    def send(self, request: Any, **kwargs: Any) -> Any:
        self.sent += 1
        return super().send(request, **kwargs)


def principal(user: str, tenant: str = "bench-tenant", roles: tuple[str, ...] = ()) -> str:
    """A v2-token principal (short `oid`/`tid` claims, no name) from the testing kit's encoder."""
    from testing.principal import principal_header

    return principal_header(user, tenant, roles, name=None, long_claims=False)


def registered_function(name: str) -> Callable[..., Any]:
    """The user function the FunctionApp registered under `name` (get_functions() once)."""
    import function_app

    for function in function_app.app.get_functions():
        if function.get_function_name() == name:
            return function.get_user_function()
    raise LookupError(name)


def timed(action: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def report(name: str, targets: dict[str, bool], payload: dict[str, Any]) -> int:
    """Print each target as MET/MISS, write bench/results/<name> and return 0 (a benchmark informs;
    it does not fail the build)."""
    for target, met in targets.items():
        print(f"  {'MET ' if met else 'MISS'} {target}")
    path = write_results(name, payload)
    print(f"written to {path.relative_to(ROOT)}")
    return 0
