"""Test setup: the environment function_app validates at import, the testing kit's fixtures, and
the tiers.

Tiers (markers registered in pyproject.toml; `pytest -m pure` runs the fast tier alone):

* `pure` — no emulator: neither the `azurite` fixture nor anything built on it;
* `azurite` — storage in Azurite (one per session, or each fault test's own);
* `system` — the whole system over real sockets or generated traffic: the local host, load, fuzz.

A module's `pytestmark` names `system` (or `azurite` when it starts its own emulator); every other
test is `azurite` if it uses the `azurite` fixture, directly or through `client`, and `pure` if not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# function_app validates settings at import; these are overridden per test by `install()`.
os.environ.update(
    {
        "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "DEV_SALT_FILE": str(ROOT / ".local" / "test-dev-salt"),
        "POLICY_VERSION": "2026-04",
    }
)
os.environ.pop("KEY_VAULT_URL", None)
os.environ.pop("WEBSITE_SITE_NAME", None)

from testing.fixtures import azurite, client, clock, logs, make_client, router, server, vault  # noqa: E402

__all__ = ["azurite", "client", "clock", "logs", "make_client", "router", "server", "vault"]
TIERS = ("pure", "azurite", "system")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        uses_azurite = "azurite" in getattr(item, "fixturenames", ())
        item.add_marker(pytest.mark.azurite if uses_azurite else pytest.mark.pure)
