"""The OpenAPI document lists exactly the registered HTTP functions, with model schemas."""

from __future__ import annotations

from functions._http import ENDPOINTS
from functions.reports_page import ROUTE as REPORT_PAGE


def test_paths_and_methods_equal_registered_functions(client, router):
    document = client.get("/api/openapi.json", principal=None).json()
    assert document["openapi"] == "3.1.0"
    api_routes = [route for route in router.routes if route.template != REPORT_PAGE]  # a page, not API
    registered = {route.path for route in api_routes}
    assert set(document["paths"]) == registered
    for route in api_routes:
        endpoint = ENDPOINTS[route.template]
        documented = {method.upper() for method in document["paths"][route.path]}
        assert documented == set(endpoint.operations), route.template
        assert route.methods is None  # every method reaches the function, which answers 405 itself


def test_schemas_come_from_the_models(client):
    document = client.get("/api/openapi.json", principal=None).json()
    schemas = document["components"]["schemas"]
    assert schemas["ConsentDecision"]["additionalProperties"] is False
    assert schemas["ConsentDecision"]["properties"]["status"]["enum"] == ["granted", "declined"]
    put = document["paths"]["/api/consent"]["put"]
    assert set(put["responses"]) >= {"200", "400", "401", "405", "413", "415", "503"}
    assert put["security"] == [{"easyAuthPrincipal": []}]
    assert "security" not in document["paths"]["/api/health"]["get"]
