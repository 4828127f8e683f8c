"""`make run`: the registered functions on http://localhost:7071 with Azurite behind them.

When Azure Functions Core Tools (`func`) is installed, `python -m tools.localhost` starts Azurite
and hands over to `func start`. Otherwise it serves the functions itself, in parts that each do
what the Functions host or App Service does in Azure:

* `testing.host` (the testing kit's, which the tests use too) — the HTTP routes read from the
  FunctionApp (`app.get_functions()`, called once) and host.json's route prefix, matched as the
  host matches them, and responses encoded as the Python worker sends them;
* `schedule` — the timer functions fired on their NCRONTAB schedules;
* `static` — the web client and its demo (local development only);
* `easyauth` — the Easy Auth session cookie turned into the principal header;
* `server` — the HTTP server and the launcher.

The HTTP server is re-exported here.
"""

from tools.localhost.server import make_handler, serve

__all__ = ["make_handler", "serve"]
