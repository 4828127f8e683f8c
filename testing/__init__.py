"""The testing kit: what tests, benchmarks and the ops CLI share, in one place.

* `testing.principal` — the Easy Auth principal exactly as App Service encodes it;
* `testing.factories` — stored records with plausible defaults;
* `testing.keyvault` — a Key Vault stand-in at the HTTP level, under the real `SecretClient`;
* `testing.azurite` — start and stop Azurite on free loopback ports;
* `testing.clock` — injected time that tests move explicitly;
* `testing.host` — the Functions host's routing and response encoding, read from the FunctionApp;
* `testing.client` / `testing.fixtures` — the in-process client and the pytest fixtures.
* `testing.pages` — requests to a static page's function and the headers its files carry.

It sits beside `tests/` (never inside it) so that `bench/` and `tools/` can use it without
importing the test suite; it imports neither (the local host, `tools/localhost`, is built on
it). Only `testing.fixtures` needs pytest.
"""
