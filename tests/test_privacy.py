"""The privacy promises, checked against what is really stored and logged.

Policy: "We do not use cookies or analytics to store names, email addresses, or other data fields
that directly identify you" and the pseudonym is "not your real user ID". After a scenario that
touches every route, no table name, key or value and no log line holds the raw user id, the
tenant claim, the e-mail-like name, the IP, user agent or referrer that were sent.
"""

from __future__ import annotations

from tests.conftest import ORIGIN, POLICY, principal_header

USER = "9d6a1c7e-5b3f-4e2a-8c1d-0f9e8d7c6b5a"
TENANT = "e4b1f0a2-7c3d-4f5e-9a8b-1c2d3e4f5a6b"
EMAIL = "kari.nordmann@equinor-example.com"
IP = "203.0.113.77"
UA = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/9.9"
REFERER = "https://intranet.example/secret-project?id=4711"
HOSTILE = {
    "X-Forwarded-For": IP,
    "X-Client-IP": IP,
    "X-Real-IP": IP,
    "User-Agent": UA,
    "Referer": REFERER,
    "Origin": ORIGIN,
    "Cookie": "AppServiceAuthSession=abcdef123456",
}
SECRETS = [
    USER,
    TENANT,
    EMAIL,
    "kari.nordmann",
    IP,
    UA,
    "PrivacyProbe",
    REFERER,
    "secret-project",
    "abcdef123456",
    USER.upper(),
    TENANT.upper(),
]


def scenario(client):
    principal = principal_header(user_id=USER, tenant_id=TENANT, name=EMAIL, roles=("Cetegra.ITAdmin",))
    assert client.get("/api/consent", principal=principal, headers=HOSTILE).status == 200
    assert (
        client.put(
            "/api/consent",
            {"status": "granted", "policy_version": POLICY},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 200
    )
    assert (
        client.put(
            "/api/consent",
            {"status": "declined", "policy_version": POLICY},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 200
    )
    assert (
        client.put(
            "/api/consent",
            {"status": "granted", "policy_version": POLICY, "email": EMAIL},
            principal=principal,
            headers=HOSTILE,
        ).status
        == 400
    )
    assert client.get("/api/health", headers=HOSTILE).status == 200


def test_no_identifier_in_any_table(client):
    scenario(client)
    stored = client.stored_text()
    assert client.tables(), "the scenario stored nothing, so the scan would prove nothing"
    for secret in SECRETS:
        assert secret.lower() not in stored.lower(), secret


def test_no_identifier_in_any_log_line(client, logs):
    scenario(client)
    assert logs.records, "no log lines captured"
    text = "\n".join(record.getMessage() for record in logs.records)
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret


def test_logger_refuses_personal_fields():
    import logging

    import pytest

    from shared.logs import log

    with pytest.raises(ValueError, match="user_id"):
        log(logging.getLogger("t"), logging.INFO, "x", user_id="u")
