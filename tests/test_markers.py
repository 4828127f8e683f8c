"""Launch markers: authors and operators record and delete them through audited routes,
readers list them; bad input is a 400 naming the field; storage trouble a 503."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.kernel.errors import StorageUnavailable
from testing.principal import STAFF_TENANT_ID, principal_header

READER = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000aaaa",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Reader",),
)
AUTHOR = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000cccc",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Author",),
)
OPS = principal_header(
    user_id="9a0c0305-0000-4000-8000-00000000bbbb",
    tenant_id=STAFF_TENANT_ID,
    roles=("Cetegra.Analytics.Operator",),
)


def audit_rows(client) -> list[dict]:
    return [row for name, rows in client.stored().items() if name.endswith("audit") for row in rows]


def test_record_list_and_delete_markers_with_an_audit_record_each(client):
    client.clock.now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    first = client.post(
        "/api/markers",
        {
            "date": "2026-10-19",
            "text": "Case templates launched",
            "feature": "case.submitted",
            "app": "workspace",
        },
        principal=AUTHOR,
    )
    assert first.status == 201, first.body
    second = client.post("/api/markers", {"date": "2026-10-05", "text": "Search v2"}, principal=OPS)
    assert second.status == 201
    listed = client.get("/api/reports/markers", principal=READER).json()
    assert [m["date"] for m in listed["markers"]] == ["2026-10-05", "2026-10-19"]
    assert listed["latest"]["text"] == "Case templates launched"
    assert listed["latest"]["feature"] == "case.submitted" and listed["latest"]["app"] == "workspace"
    marker_id = first.json()["id"]
    assert client.request("DELETE", f"/api/markers/{marker_id}", body="{}", principal=AUTHOR).status == 200
    assert client.request("DELETE", f"/api/markers/{marker_id}", body="{}", principal=AUTHOR).status == 404
    assert [m["date"] for m in client.get("/api/reports/markers", principal=READER).json()["markers"]] == [
        "2026-10-05"
    ]
    audit = audit_rows(client)
    targets = sorted(row["target"] for row in audit)
    assert targets == sorted([f"marker:{marker_id}"] * 3 + [f"marker:{second.json()['id']}"])
    assert all("Case templates" not in json.dumps(row, default=str) for row in audit)  # counts only
    csv = client.get("/api/reports/markers", principal=READER, headers={"Accept": "text/csv"})
    assert csv.status == 200 and "Search v2" in csv.body.decode()


def test_readers_cannot_record_markers_and_authors_may_read_them(client):
    assert client.post("/api/markers", {"date": "2026-10-19", "text": "x"}, principal=READER).status == 403
    assert client.get("/api/reports/markers", principal=AUTHOR).status == 200
    assert client.get("/api/reports/markers", principal=None).status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date": "2026-13-40", "text": "x"}, "date"),
        ({"date": "19.10.2026", "text": "x"}, "date"),
        ({"date": "2026-10-19", "text": ""}, "text"),
        ({"date": "2026-10-19", "text": "x" * 201}, "text"),
        ({"date": "2026-10-19", "text": "line\nbreak"}, "text"),
        ({"date": "2026-10-19", "text": "x", "app": "Not An App!"}, "app"),
        ({"date": "2026-10-19", "text": "x", "who": "me"}, "who"),
        ({"text": "x"}, "date"),
    ],
)
def test_bad_markers_are_400_naming_the_field(client, body, field):
    response = client.post("/api/markers", body, principal=AUTHOR)
    assert response.status == 400, response.body
    assert response.json()["error"]["field"] == field


def test_a_malformed_marker_id_is_404(client):
    assert client.request("DELETE", "/api/markers/m2026", body="{}", principal=AUTHOR).status == 404


def test_storage_trouble_is_503(client, monkeypatch):
    def down(*args, **kwargs):
        raise StorageUnavailable("down")

    monkeypatch.setattr(client.services.storage, "partition", down)
    response = client.get("/api/reports/markers", principal=READER)
    assert response.status == 503 and response.header("Retry-After")
