"""Shared benchmark plumbing: a fresh Azurite, counted transports, the registered functions."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.pipeline.transport import RequestsTransport

if TYPE_CHECKING:
    from shared.privacy.pseudonyms import Salt
    from shared.services import Services

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TABLES_CONNECTION_STRING", "UseDevelopmentStorage=true")
os.environ.setdefault("DEV_SALT_FILE", str(Path(tempfile.gettempdir()) / "cetegra-bench-salt"))
os.environ.setdefault("POLICY_VERSION", "2026-04")


class CountingTransport(RequestsTransport):  # type: ignore[misc]
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


class StaticSalt:
    """One fixed salt in place of Key Vault: a benchmark measures storage and routing, not the vault,
    and a fixed salt makes its pseudonyms repeatable from run to run."""

    def fetch(self, version: str | None) -> Salt:
        from shared.privacy.pseudonyms import Salt

        return Salt("v1", b"bench-salt-" * 4)

    def versions(self) -> list[str]:
        return ["v1"]


def counted_services(
    conn: str, prefix: str, clock: Callable[[], datetime]
) -> tuple[Services, CountingTransport]:
    """The project's services over `conn` (tables prefixed `prefix`) with a counting transport, the
    static salt and a fixed clock, configured as in production (a Key Vault URL, no dev salt file).
    Returns the services and the transport whose `sent` counts the storage transactions."""
    from shared.kernel.settings import Settings
    from shared.services import build
    from shared.storage import Storage
    from testing.principal import STAFF_TENANT_ID

    transport = CountingTransport(use_env_settings=False)
    storage = Storage.connect(connection_string=conn, endpoint=None, prefix=prefix, transport=transport)
    settings = Settings.from_env(
        {
            "TABLES_CONNECTION_STRING": conn,
            "TABLE_PREFIX": prefix,
            "POLICY_VERSION": "2026-04",
            "KEY_VAULT_URL": "https://bench.vault.azure.net",
            "STAFF_TENANT_IDS": STAFF_TENANT_ID,  # the reports bench reads as a staff Reader
        }
    )
    return build(settings, storage=storage, salt_source=StaticSalt(), clock=clock), transport


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
