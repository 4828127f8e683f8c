"""The OpenAPI document lists exactly the registered HTTP functions, with model schemas."""

from __future__ import annotations

from functions.authoring_page import ROUTE as AUTHORING_PAGE
from functions.edge import ENDPOINTS
from functions.openapi_document import PRINTABLE
from functions.reports_page import ROUTE as REPORT_PAGE


def test_paths_and_methods_equal_registered_functions(client, router):
    document = client.get("/api/openapi.json", principal=None).json()
    assert document["openapi"] == "3.1.0"
    pages = (REPORT_PAGE, AUTHORING_PAGE)
    api_routes = [route for route in router.routes if route.template not in pages]  # pages, not API
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


def test_report_routes_document_their_query_parameters_and_csv(client):
    document = client.get("/api/openapi.json", principal=None).json()
    active = document["paths"]["/api/reports/active-users"]["get"]
    assert {p["name"] for p in active["parameters"]} == {"from", "to", "tenant", "user_type", "grain"}
    assert all(p["in"] == "query" for p in active["parameters"])
    assert set(active["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    assert {"400", "401", "403", "503"} <= set(active["responses"])
    directory = document["paths"]["/api/ops/tenants/{tenant_id}"]["put"]
    assert directory["parameters"][0] == {
        "name": "tenant_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": PRINTABLE},
    }
    launch = {p["name"]: p for p in document["paths"]["/api/reports/launch"]["get"]["parameters"]}
    assert launch["feature"]["required"] and launch["date"]["required"] and not launch["weeks"]["required"]


def test_every_state_change_documents_its_json_body_and_415(client):
    """A state-changing request always sends a JSON body (`{}` where nothing is asked
    for), so the document marks the body required; only events also take text/plain (sendBeacon)."""
    document = client.get("/api/openapi.json", principal=None).json()
    changes = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() not in ("POST", "PUT", "PATCH", "DELETE"):
                continue
            changes += 1
            assert "415" in operation["responses"], (method, path)
            body = operation["requestBody"]
            assert body["required"] is True, (method, path)
            media = {"application/json", "text/plain"} if path == "/api/events" else {"application/json"}
            assert set(body["content"]) == media, (method, path)
    assert changes >= 12
