"""Entry point of the function app: every trigger of the system is registered here."""

import azure.functions as func

from functions import BLUEPRINTS
from shared.kernel import settings, telemetry

settings.load()  # fail at start-up, naming the bad app setting, rather than on the first request
telemetry.configure_for_azure()  # Application Insights in Azure only: offline in tests and `make run`

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
