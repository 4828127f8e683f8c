"""The pytest fixtures of the testing kit (tests/conftest.py imports them by name).

One Azurite per session (or TEST_TABLES_CONNECTION_STRING), a fresh table prefix, vault and
object graph per test. Only the `azurite` fixture and what depends on it needs the emulator;
tests that use none of them form the `pure` tier.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from shared.services import build, install
from testing.azurite import Azurite, free_port
from testing.client import Client, make_settings
from testing.clock import Clock
from testing.host import Router
from testing.keyvault import FakeKeyVault
from testing.server import serve

START = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    given = os.environ.get("TEST_TABLES_CONNECTION_STRING")
    if given:
        yield given
        return
    with Azurite(("table",)) as emulator:
        yield emulator.connection_string()


@pytest.fixture(scope="session")
def router() -> Router:
    import function_app

    return Router.from_app(function_app.app)  # get_functions() once: it re-validates names per call


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def vault() -> FakeKeyVault:
    fake = FakeKeyVault()
    fake.rotate()
    return fake


@pytest.fixture
def make_client(
    azurite: str, router: Router, vault: FakeKeyVault, clock: Clock
) -> Iterator[Callable[..., Client]]:
    def make(**overrides: str) -> Client:
        settings = make_settings(azurite, **overrides)
        services = build(settings, salt_source=vault.salt_source(), clock=clock)
        install(services)
        return Client(router, services, vault, clock)

    yield make
    install(None)


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()


@pytest.fixture
def server(client: Client, router: Router) -> Iterator[int]:
    """An HTTP server over the registered functions on a free loopback port, as the Functions
    host serves them (the local host's own parts are tests/test_localhost.py's)."""
    port = free_port()
    httpd = serve(router, port)
    yield port
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything any logger writes during the test, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog
