"""Consent API against Azurite: round trip, proof-of-consent history, reprompt, every error."""

from __future__ import annotations

import base64
import json

import pytest

from testing.client import POLICY
from testing.principal import principal_header

GRANT = {"status": "granted", "policy_version": POLICY}


def test_unset_by_default_and_reprompts(client):
    response = client.get("/api/consent")
    assert response.status == 200
    assert response.json() == {
        "status": "unset",
        "policy_version": None,
        "decided_at": None,
        "reprompt": True,
    }


def test_round_trip_and_history(client, clock):
    first = client.put("/api/consent", GRANT)
    assert first.status == 200
    assert first.json() == {
        "status": "granted",
        "policy_version": POLICY,
        "decided_at": "2026-11-23T12:00:00Z",
        "reprompt": False,
    }
    assert client.get("/api/consent").json() == first.json()

    clock.advance(hours=1)
    withdrawn = client.put("/api/consent", {"status": "declined", "policy_version": POLICY})
    assert withdrawn.json()["status"] == "declined"
    assert withdrawn.json()["decided_at"] == "2026-11-23T13:00:00Z"

    services = client.services
    pseudonyms = services.pseudonymizer.current(
        "c0ffee00-1111-2222-3333-444455556666", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    )
    history = services.consent.history(pseudonyms)
    assert [(h["previous_status"], h["status"], h["policy_version"]) for h in history] == [
        ("unset", "granted", POLICY),
        ("granted", "declined", POLICY),
    ]
    assert [h["at"].isoformat() for h in history] == [
        "2026-11-23T12:00:00+00:00",
        "2026-11-23T13:00:00+00:00",
    ]


def test_same_decision_twice_adds_no_history(client, clock):
    client.put("/api/consent", GRANT)
    before = client.entity_count()
    clock.advance(minutes=5)
    again = client.put("/api/consent", GRANT)
    assert again.json()["decided_at"] == "2026-11-23T12:00:00Z"
    assert client.entity_count() == before


def test_reprompt_after_policy_version_change(make_client, clock):
    old = make_client(POLICY_VERSION="2025-01")
    old.put("/api/consent", {"status": "granted", "policy_version": "2025-01"})
    assert old.get("/api/consent").json()["reprompt"] is False

    new = make_client(POLICY_VERSION="2026-04", TABLE_PREFIX=old.services.settings.table_prefix)
    view = new.get("/api/consent").json()
    assert view["status"] == "granted" and view["policy_version"] == "2025-01"
    assert view["reprompt"] is True
    assert (
        new.put("/api/consent", {"status": "granted", "policy_version": "2026-04"}).json()["reprompt"]
        is False
    )


def test_users_are_separate(client):
    bob = principal_header(user_id="bob-oid", name="bob@contoso.com")
    client.put("/api/consent", GRANT)
    assert client.get("/api/consent", principal=bob).json()["status"] == "unset"


def test_same_user_other_tenant_is_separate(client):
    client.put("/api/consent", GRANT)
    guest = principal_header(tenant_id="another-tenant-0000")
    assert client.get("/api/consent", principal=guest).json()["status"] == "unset"


def test_body_cannot_name_a_user(client):
    response = client.put("/api/consent", {**GRANT, "user_id": "someone-else"})
    assert response.status == 400
    assert response.json()["error"] == {
        "code": "unknown_field",
        "message": "unknown field user_id",
        "field": "user_id",
    }


# ---- every contract error, each leaving storage untouched ----------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


BAD_BODIES = [
    pytest.param(
        {"body": "{not json", "content_type": "application/json"},
        400,
        "invalid_json",
        id="bad-json",
    ),
    pytest.param({"body": "", "content_type": "application/json"}, 400, "invalid_json", id="empty-body"),
    pytest.param({"json_body": [GRANT]}, 400, "invalid_body", id="array-body"),
    pytest.param({"json_body": {**GRANT, "extra": 1}}, 400, "unknown_field", id="unknown-field"),
    pytest.param(
        {"json_body": {"status": "maybe", "policy_version": POLICY}},
        400,
        "invalid_value",
        id="bad-status",
    ),
    pytest.param(
        {"json_body": {"status": "unset", "policy_version": POLICY}},
        400,
        "invalid_value",
        id="unset-not-settable",
    ),
    pytest.param({"json_body": {"status": "granted"}}, 400, "missing_field", id="missing-version"),
    pytest.param(
        {"json_body": {"status": "granted", "policy_version": "a b"}},
        400,
        "invalid_value",
        id="bad-version-chars",
    ),
    pytest.param(
        {"json_body": {"status": "granted", "policy_version": "v" * 65}},
        400,
        "invalid_value",
        id="long-version",
    ),
    pytest.param(
        {"json_body": {"status": "granted", "policy_version": 7}},
        400,
        "invalid_value",
        id="version-not-string",
    ),
    pytest.param(
        {"json_body": {"status": True, "policy_version": POLICY}},
        400,
        "invalid_value",
        id="status-not-string",
    ),
    pytest.param(
        {"body": json.dumps({**GRANT, "pad": "x" * 5000}), "content_type": "application/json"},
        413,
        "payload_too_large",
        id="oversized",
    ),
    pytest.param(
        {"body": json.dumps(GRANT), "content_type": "text/xml"},
        415,
        "unsupported_media_type",
        id="xml",
    ),
    pytest.param(
        {"body": json.dumps(GRANT), "content_type": None},
        415,
        "unsupported_media_type",
        id="no-content-type",
    ),
    pytest.param(
        {"body": json.dumps(GRANT), "content_type": "application/json; charset=latin-1"},
        415,
        "unsupported_media_type",
        id="latin1",
    ),
]


@pytest.mark.parametrize(("kwargs", "status", "code"), BAD_BODIES)
def test_bad_bodies_are_rejected_and_store_nothing(client, kwargs, status, code):
    response = client.request("PUT", "/api/consent", **kwargs)
    assert response.status == status, response.body
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert client.entity_count() == 0


def test_invalid_value_names_the_field(client):
    response = client.put("/api/consent", {"status": "maybe", "policy_version": POLICY})
    assert response.json()["error"]["field"] == "status"


BAD_PRINCIPALS = [
    pytest.param(None, "unauthenticated", id="missing"),
    pytest.param("", "unauthenticated", id="empty"),
    pytest.param("not base64 !!!", "invalid_principal", id="not-base64"),
    pytest.param(_b64("not json"), "invalid_principal", id="not-json"),
    pytest.param(_b64("[1,2]"), "invalid_principal", id="json-array"),
    pytest.param(_b64(json.dumps({"auth_typ": "aad"})), "invalid_principal", id="no-claims"),
    pytest.param(
        _b64(json.dumps({"claims": [{"typ": "oid"}]})),
        "invalid_principal",
        id="claim-without-value",
    ),
    pytest.param(
        _b64(json.dumps({"claims": [{"typ": "oid", "val": "u1"}]})),
        "incomplete_principal",
        id="no-tenant",
    ),
    pytest.param(
        _b64(json.dumps({"claims": [{"typ": "tid", "val": "t1"}]})),
        "incomplete_principal",
        id="no-user",
    ),
    pytest.param(
        _b64(json.dumps({"claims": [{"typ": "oid", "val": " "}, {"typ": "tid", "val": "t"}]})),
        "incomplete_principal",
        id="blank-user",
    ),
    pytest.param("A" * 20000, "invalid_principal", id="huge"),
]


@pytest.mark.parametrize(("header", "code"), BAD_PRINCIPALS)
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_bad_principal_is_401_and_stores_nothing(client, header, code, method):
    response = client.request(
        method, "/api/consent", json_body=GRANT if method == "PUT" else None, principal=header
    )
    assert response.status == 401
    assert response.json()["error"]["code"] == code
    assert client.entity_count() == 0


def test_principal_in_body_or_other_header_is_ignored(client):
    forged = {
        "X-MS-CLIENT-PRINCIPAL-ID": "victim",
        "X-MS-CLIENT-PRINCIPAL-NAME": "victim@contoso.com",
    }
    response = client.request("GET", "/api/consent", principal=None, headers=forged)
    assert response.status == 401


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH"])
def test_wrong_method_is_405_with_allow(client, method):
    response = client.request(method, "/api/consent", json_body=GRANT)
    assert response.status == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.header("Allow") == "GET, PUT, OPTIONS"
    assert client.entity_count() == 0
