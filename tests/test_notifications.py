"""Notifications and surveys through the registered routes, against Azurite."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from functions.openapi_document import PRINTABLE
from shared.kernel.errors import StorageUnavailable
from shared.notifications.service import Notifications
from shared.privacy.disclosure import SNAPSHOT_HOURS, fold_buckets
from shared.privacy.disclosure.surveys import schedule
from shared.services import build, install
from shared.storage.notifications import ANSWERS, ITEMS, STATE, NotificationStore, SnapshotRecord
from testing.client import POLICY
from testing.principal import STAFF_TENANT_ID, principal_header

TENANT_A = "aaaa0000-1111-2222-3333-444455556666"
TENANT_B = "bbbb0000-1111-2222-3333-444455556666"
AUTHOR = principal_header(
    user_id="author-oid",
    tenant_id=STAFF_TENANT_ID,
    name="author@cegal.example",
    roles=("Cetegra.Analytics.Author",),
)
READER = principal_header(
    user_id="reader-oid", tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Reader",)
)
OPS = principal_header(user_id="ops-oid", tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Operator",))
ADMIN_ROLE = "Cetegra.ITAdmin"


def user(i: int | str, tenant: str = TENANT_A, roles: tuple[str, ...] = ()) -> str:
    return principal_header(user_id=f"user-{i}", tenant_id=tenant, name=f"user{i}@contoso.com", roles=roles)


ME = user("me")

NO_CADENCE = {
    "SURVEY_FIRST_DAY": "1",
    "SURVEY_INTERVAL_DAYS": "0",
    "SURVEY_PAUSE_AFTER_ANSWER_DAYS": "0",
    "SURVEY_PAUSE_AFTER_DISMISS_DAYS": "0",
}
"""Every survey offered at once, as these tests expect (the cadence has its own tests in
tests/test_notification_feed.py)."""


@pytest.fixture
def client(make_client):
    return make_client(**NO_CADENCE)


def item_rows(client):
    """State rows of items: without the rotation marker (`m`) and the cadence row (`c`)."""
    return [r for r in rows(client, STATE) if r["RowKey"] not in ("m", "c")]


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def item_fields(client, **fields):
    now = client.clock.now
    body = {
        "kind": "notification",
        "title": "New: saved searches",
        "body": "Save any search and find it again under Favourites.",
        "link": "https://docs.cetegra.example/saved-searches",
        "priority": "normal",
        "starts_at": iso(now - timedelta(hours=1)),
        "ends_at": iso(now + timedelta(days=7)),
    }
    body.update(fields)
    return body


def nps_question(text="How likely are you to recommend Cetegra Workspace to a colleague?"):
    return {"type": "nps", "text": text}


def create(client, principal=AUTHOR, publish=True, **fields):
    response = client.post("/api/authoring/items", item_fields(client, **fields), principal=principal)
    assert response.status == 201, response.body
    item = response.json()
    assert item["status"] == "draft"
    if publish:
        item = patch(client, item["id"], {"status": "published"})
    return item


def patch(client, item_id, changes, principal=AUTHOR, status=200):
    response = client.request(
        "PATCH", f"/api/authoring/items/{item_id}", json_body=changes, principal=principal
    )
    assert response.status == status, response.body
    return response.json()


def pending(client, principal=ME, app=None):
    path = "/api/notifications" + (f"?app={app}" if app else "")
    response = client.get(path, principal=principal)
    assert response.status == 200, response.body
    return response.json()["items"]


def ids(items):
    return [i["id"] for i in items]


def act(client, item_id, action, principal=ME, body=None):
    return client.post(
        f"/api/notifications/{item_id}/{action}", body if body is not None else {}, principal=principal
    )


def rows(client, base):
    return list(client.services.storage.scan(client.services.storage.table(base)))


def notification_rows(client):
    return {base: rows(client, base) for base in (STATE, ANSWERS)}


# ---- the user's side ---------------------------------------------------------------------------


def test_published_item_is_pending_until_seen(client):
    draft = create(client, publish=False)
    assert pending(client) == []  # a draft is nobody's
    assert act(client, draft["id"], "seen").status == 404
    item = patch(client, draft["id"], {"status": "published"})
    [shown] = pending(client)
    assert shown["id"] == item["id"] and shown["kind"] == "notification" and shown["seen"] is False
    assert shown["title"] == "New: saved searches" and shown["link"].startswith("https://")
    seen = act(client, item["id"], "seen")
    assert seen.status == 204 and seen.body == b""
    [kept] = pending(client)  # the feed keeps it, read
    assert kept["id"] == item["id"] and kept["seen"] is True
    assert act(client, item["id"], "dismiss").status == 204
    assert pending(client) == []
    before = rows(client, STATE)
    client.clock.advance(minutes=5)
    assert act(client, item["id"], "seen").status == 204  # repeating is harmless and writes nothing
    assert rows(client, STATE) == before
    assert pending(client, principal=user("other")) != []  # only my state changed


def test_survey_stays_pending_after_seen_until_answered_or_dismissed(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    other = create(client, kind="survey", question={"type": "rating", "text": "Rate search"}, link=None)
    act(client, survey["id"], "seen")
    items = {i["id"]: i for i in pending(client)}
    assert items[survey["id"]]["seen"] is True and items[other["id"]]["seen"] is False
    assert act(client, survey["id"], "answer", body={"value": 9, "comment": None}).status == 204
    assert act(client, other["id"], "dismiss").status == 204
    assert pending(client) == []


def test_answering_again_replaces_the_answer(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    assert act(client, survey["id"], "answer", body={"value": 3, "comment": "slow"}).status == 204
    assert act(client, survey["id"], "answer", body={"value": 10}).status == 204
    [answer] = rows(client, ANSWERS)
    assert json.loads(answer["value"]) == 10 and "comment" not in answer
    [state] = item_rows(client)
    assert state["answered_at"] and state["RowKey"] == survey["id"]


def test_a_person_answers_at_most_two_surveys_a_calendar_month(client):
    """The survey releases' budget counts two answered surveys per person and month: a third
    answer is refused (409 answer_limit, nothing stored) even when the cadence is off, as it is
    for a crafted request; changing an answer given this month stays allowed, another person is
    unaffected, and the next calendar month allows two again."""
    surveys = [create(client, kind="survey", question=nps_question(), link=None) for _ in range(3)]
    first, second, third = (s["id"] for s in surveys)
    assert act(client, first, "answer", body={"value": 9}).status == 204
    assert act(client, second, "answer", body={"value": 7}).status == 204
    refused = act(client, third, "answer", body={"value": 3})
    assert refused.status == 409 and refused.json()["error"]["code"] == "answer_limit"
    assert len(rows(client, ANSWERS)) == 2
    assert {r["RowKey"] for r in item_rows(client) if r.get("answered_at")} == {first, second}
    assert act(client, second, "answer", body={"value": 8}).status == 204  # a change, not a third
    assert act(client, third, "answer", principal=user("other"), body={"value": 3}).status == 204
    now = client.clock.now
    client.clock.now = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, 0, 5, tzinfo=now.tzinfo)
    late = create(client, kind="survey", question=nps_question(), link=None)
    assert act(client, late["id"], "answer", body={"value": 10}).status == 204


def test_choice_and_rating_values_are_checked(client):
    choice = create(
        client,
        kind="survey",
        link=None,
        question={
            "type": "choice",
            "text": "Which did you use?",
            "options": ["Search", "Catalogue", "Cases"],
        },
    )
    rating = create(client, kind="survey", link=None, question={"type": "rating", "text": "Rate it"})
    for item, value in (
        (choice, "Nope"),
        (choice, 1),
        (rating, 0),
        (rating, 6),
        (rating, "3"),
        (rating, True),
    ):
        bad = act(client, item["id"], "answer", body={"value": value})
        assert bad.status == 400 and bad.json()["error"]["field"] == "value", (value, bad.body)
    assert rows(client, ANSWERS) == []
    assert act(client, choice["id"], "answer", body={"value": "Cases"}).status == 204
    assert act(client, rating["id"], "answer", body={"value": 5}).status == 204
    notification = create(client)
    refused = act(client, notification["id"], "answer", body={"value": 5})
    assert refused.status == 400 and refused.json()["error"]["code"] == "not_a_survey"


def test_audience_user_types_tenants_apps_and_window(client):
    # authors target a tenant by the stable key the tenant directory returns (and reports list)
    tenant_a = client.put("/api/ops/tenants/" + TENANT_A, {"name": "Tenant A"}, principal=OPS).json()[
        "tenant"
    ]
    admins = create(client, title="For admins", audience={"user_types": ["it_admin"]})
    tenant = create(client, title="For tenant A", audience={"tenants": [tenant_a]})
    app = create(client, title="In the catalogue", audience={"apps": ["catalog"]})
    later = create(
        client,
        title="Next week",
        starts_at=iso(client.clock.now + timedelta(days=7)),
        ends_at=iso(client.clock.now + timedelta(days=8)),
    )
    admin_a, basic_b = user(1, roles=(ADMIN_ROLE,)), user(2, tenant=TENANT_B)
    assert set(ids(pending(client, admin_a))) == {admins["id"], tenant["id"]}
    assert set(ids(pending(client, admin_a, app="catalog"))) == {admins["id"], tenant["id"], app["id"]}
    assert ids(pending(client, basic_b)) == []
    assert ids(pending(client, basic_b, app="catalog")) == [app["id"]]
    for item in (admins, tenant):
        assert act(client, item["id"], "seen", principal=basic_b).status == 404  # not theirs: 404
    assert act(client, later["id"], "seen", principal=admin_a).status == 404
    client.clock.advance(days=7, minutes=1)
    assert ids(pending(client, basic_b)) == [later["id"]]  # the others' windows have ended
    bad = client.get("/api/notifications?app=Not%20An%20App", principal=basic_b)
    assert bad.status == 400 and bad.json()["error"]["field"] == "app"


def test_archived_items_disappear_and_cannot_change(client):
    item = create(client)
    archived = patch(client, item["id"], {"status": "archived"})
    assert archived["archived_at"] and pending(client) == []
    refused = patch(client, item["id"], {"title": "again"}, status=400)
    assert refused["error"]["code"] == "item_archived"
    patch(client, item["id"], {"status": "published"}, status=400)


def test_published_survey_keeps_its_question(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    refused = patch(client, survey["id"], {"question": {"type": "rating", "text": "Rate"}}, status=400)
    assert refused["error"]["code"] == "item_locked" and refused["error"]["field"] == "question"
    changed = patch(client, survey["id"], {"title": "Quick question", "status": "draft"})
    assert changed["title"] == "Quick question" and changed["status"] == "draft"


def test_declined_analytics_still_gets_notifications_and_writes_no_event(client):
    assert client.put("/api/consent", {"status": "declined", "policy_version": POLICY}).status == 200
    survey = create(client, kind="survey", question=nps_question(), link=None)
    assert ids(pending(client)) == [survey["id"]]
    assert act(client, survey["id"], "answer", body={"value": 8, "comment": "fine"}).status == 204
    assert not any(name.startswith(client.services.storage.table("ev")) for name in client.tables())
    consent = rows(client, "consent")
    assert all(r["status"] == "declined" for r in consent if r["RowKey"] == "state")


def test_state_and_answers_are_keyed_by_the_notification_pseudonym(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    act(client, survey["id"], "answer", body={"value": 7})
    ours = client.services.pseudonymizer.current(TENANT_A, "user-me")
    [state], [answer] = item_rows(client), rows(client, ANSWERS)
    assert state["PartitionKey"] == answer["RowKey"] == ours.notification_key
    assert state["tenant"] == answer["tenant"] == ours.tenant_ref
    assert ours.notification_key not in (ours.consent_key, ours.audit_ref, str(ours.event_pseudonym))
    text = client.stored_text()
    for raw in ("user-me", TENANT_A, "userme@contoso.com"):
        assert raw not in text


# ---- authoring: roles, validation, limits, audit ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/authoring/items"),
        ("POST", "/api/authoring/items"),
        ("GET", "/api/authoring/items/0123456789abcdef0123456789abcdef"),
        ("PATCH", "/api/authoring/items/0123456789abcdef0123456789abcdef"),
        ("GET", "/api/authoring/items/0123456789abcdef0123456789abcdef/results"),
    ],
)
def test_authoring_needs_a_role(client, method, path):
    for principal in (ME, READER) if "results" not in path else (ME,):
        response = client.request(
            method, path, json_body={} if method != "GET" else None, principal=principal
        )
        assert response.status == 403, (principal, response.body)
    assert client.request(method, path, json_body=None, principal=None).status == 401
    assert rows(client, ITEMS) == []


def test_operators_author_and_readers_see_results_without_comments(client):
    survey = create(client, principal=OPS, kind="survey", question=nps_question(), link=None)
    assert (
        client.get(f"/api/authoring/items/{survey['id']}/results", principal=READER).json()["comments"]
        is None
    )
    assert client.get(f"/api/authoring/items/{survey['id']}/results", principal=OPS).json()["comments"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "x" * 121}, "title"),
        ({"title": ""}, "title"),
        ({"title": "line\nbreak"}, "title"),
        ({"body": "b" * 2001}, "body"),
        ({"link": "javascript:alert(1)"}, "link"),
        ({"link": 'https://evil.example/"onmouseover=x'}, "link"),
        ({"priority": "urgent"}, "priority"),
        ({"kind": "survey"}, "question"),  # cross-field rules name the field to fix
        ({"question": nps_question()}, "question"),
        ({"audience": {"tenants": ["c0ffee00-1111-2222-3333-444455556666"]}}, "audience"),
        ({"audience": {"user_types": ["root"]}}, "audience.user_types[0]"),
        ({"starts_at": "2026-11-23T12:00:00"}, "starts_at"),
        ({"ends_at": "2026-11-01T00:00:00Z"}, "ends_at"),
        (
            {"kind": "survey", "question": {"type": "choice", "text": "?", "options": ["a"]}},
            "question.options",
        ),
        (
            {"kind": "survey", "question": {"type": "choice", "text": "?", "options": list("abcdefg")}},
            "question.options",
        ),
        ({"owner": "me"}, "owner"),
    ],
)
def test_bad_items_are_400_and_store_nothing(client, changes, field):
    response = client.post("/api/authoring/items", item_fields(client, **changes), principal=AUTHOR)
    assert response.status == 400, response.body
    assert response.json()["error"].get("field") == field
    assert rows(client, ITEMS) == []


def test_size_limits(client):
    huge = item_fields(client, body="b" * 40_000)
    assert client.post("/api/authoring/items", huge, principal=AUTHOR).status == 413
    assert rows(client, ITEMS) == []
    survey = create(client, kind="survey", question=nps_question(), link=None)
    long = act(client, survey["id"], "answer", body={"value": 5, "comment": "c" * 501})
    assert long.status == 400 and long.json()["error"]["field"] == "comment"
    too_big = act(client, survey["id"], "answer", body={"value": 5, "comment": "é" * 2100})
    assert too_big.status == 413
    assert notification_rows(client) == {STATE: [], ANSWERS: []}
    assert act(client, survey["id"], "answer", body={"value": 5, "comment": "é" * 500}).status == 204


def test_unknown_ids_are_404(client):
    for item_id in ("0123456789abcdef0123456789abcdef", "not-an-id", "..%2F..%2Fetc"):
        for action in ("seen", "dismiss"):
            assert act(client, item_id, action).status == 404
        assert act(client, item_id, "answer", body={"value": 1}).status == 404
        assert client.get(f"/api/authoring/items/{item_id}", principal=AUTHOR).status == 404
        assert client.get(f"/api/authoring/items/{item_id}/results", principal=AUTHOR).status == 404
        assert patch(client, item_id, {"title": "x"}, status=404)["error"]["code"] == "item_not_found"
    assert notification_rows(client) == {STATE: [], ANSWERS: []} and rows(client, ITEMS) == []


def test_author_actions_are_audited_without_identities(client):
    item = create(client)
    client.get("/api/authoring/items", principal=AUTHOR)
    client.post("/api/authoring/items", {}, principal=ME)  # denied, audited too
    records = client.services.tables.audit.day(client.clock.now.date())
    operations = sorted((r.operation, r.status) for r in records)
    assert operations == [
        ("GET /api/authoring/items", 200),
        ("PATCH /api/authoring/items/{id}", 200),
        ("POST /api/authoring/items", 201),
        ("POST /api/authoring/items", 403),
    ]
    assert all(r.actor.startswith("o") for r in records)
    targets = {(r.operation, r.status): r.target for r in records}
    assert targets[("POST /api/authoring/items", 201)] == targets[("PATCH /api/authoring/items/{id}", 200)]
    assert targets[("POST /api/authoring/items", 201)] == "item:" + item["id"]  # what was acted on
    assert targets[("GET /api/authoring/items", 200)] == targets[("POST /api/authoring/items", 403)] == ""
    text = json.dumps(records, default=str)
    assert "author-oid" not in text and "author@cegal.example" not in text


def test_list_and_hostile_markup_come_back_as_text(client):
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    item = create(client, title=hostile[:120], body=hostile + "\n&amp; <b>bold</b>")
    [listed] = client.get("/api/authoring/items", principal=AUTHOR).json()["items"]
    assert listed["id"] == item["id"] and listed["body"] == hostile + "\n&amp; <b>bold</b>"
    [shown] = pending(client)
    assert shown["title"] == hostile[:120] and shown["body"] == listed["body"]


# ---- results: differentially private releases (exact mode here) ---------------------------------

FIRST = {"hours": 42}
"""From `create`'s default window (an hour ago to 7 days on): past t_1, the first scheduled
snapshot (a quarter of the window after its start)."""


def answer_as(client, survey, answers):
    for i, (value, tenant, roles, comment) in enumerate(answers):
        principal = user(f"r{i}", tenant=tenant, roles=roles)
        response = act(
            client, survey["id"], "answer", principal=principal, body={"value": value, "comment": comment}
        )
        assert response.status == 204, response.body


def nps_buckets(**counts):
    """Every NPS bucket: the given ones (by score, `s10=6`), the others hidden (null)."""
    return {str(score): counts.get(f"s{score}") for score in range(11)}


def test_results_before_the_first_snapshot_show_nothing_and_say_when(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(10, TENANT_A, (), "love it")] * 6)
    results = client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR).json()
    assert results["k"] == 5 and results["answers"] is None and results["suppressed"] is True
    assert results["distribution"] == {} and results["nps"] is None and results["comments"] == []
    assert results["by_user_type"] == results["by_tenant"] == [] and results["as_of"] is None
    t1 = schedule(datetime.fromisoformat(survey["starts_at"]), datetime.fromisoformat(survey["ends_at"]))[0]
    assert results["snapshot"] == 0 and results["renewable_at"] == iso(t1)


def test_results_below_k_show_nothing(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(10, TENANT_A, (), "love it")] * 4)
    client.clock.advance(**FIRST)
    results = client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR).json()
    assert results["answers"] is None and results["suppressed"] is True and results["snapshot"] == 1
    assert results["distribution"] == {} and results["nps"] is None and results["comments"] == []


def test_results_are_released_buckets_hidden_is_null_never_0(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    admin = (ADMIN_ROLE,)
    answers = (
        [(10, TENANT_A, (), "great")] * 6  # 6 promoters, basic users of A
        + [(9, TENANT_A, (), None)] * 2  # 2 promoters
        + [(3, TENANT_B, admin, "too slow")] * 3  # 3 detractors, admins of B (a cell under k)
        + [(7, TENANT_A, (), None)] * 5  # 5 passives
    )
    answer_as(client, survey, answers)
    client.clock.advance(**FIRST)
    results = client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR).json()
    assert results["answers"] == 16 and results["suppressed"] is False and results["snapshot"] == 1
    assert results["distribution"] == nps_buckets(s10=6, s7=5)  # 9 (2) and 3 (3) are hidden
    assert results["nps_groups"] == {"promoters": 8, "passives": 5, "detractors": None}
    assert results["nps"] == round(100 * (8 - 3) / 16, 1)  # exact mode: the exact histogram
    assert results["answers_moe"] == results["distribution_moe"] == results["nps_moe"] == 0
    key_a = client.services.tenants.key_of(TENANT_A)
    assert {c["key"]: c["answers"] for c in results["by_tenant"]} == {key_a: 13}  # B (3) hidden
    assert {c["key"]: c["answers"] for c in results["by_user_type"]} == {
        "it_admin": None,
        "advanced_user": None,
        "basic_user": 13,
        "(none)": None,
    }
    for cell in results["by_user_type"]:
        assert cell["answers"] is None or cell["answers"] >= 5
        assert (cell["nps"] is None) == (cell["answers"] is None)
    assert 0 not in [*results["distribution"].values(), *results["nps_groups"].values()]
    comments = results["comments"]
    assert sorted(c["text"] for c in comments) == ["great"] * 6 + ["too slow"] * 3
    # comment labels keep the k rule (`fold_buckets`): B (3) would leave (other) under k, so A joins
    # it and no tenant is shown; every comment is labelled by user type only, here folded as well
    assert all(c["tenant"] is None and c["user_type"] == "(other)" for c in comments)
    reader = client.get(f"/api/authoring/items/{survey['id']}/results", principal=READER).json()
    assert reader["comments"] is None and reader["distribution"] == results["distribution"]


def test_big_cells_are_shown_with_their_comments(client):
    survey = create(client, kind="survey", question={"type": "rating", "text": "Rate search"}, link=None)
    answer_as(
        client,
        survey,
        [(5, TENANT_A, (), "fast")] * 6 + [(2, TENANT_B, (ADMIN_ROLE,), "needs filters")] * 5,
    )
    client.clock.advance(**FIRST)
    results = client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR).json()
    key_a = client.services.tenants.key_of(TENANT_A)
    key_b = client.services.tenants.key_of(TENANT_B)
    assert results["distribution"] == {"1": None, "2": 5, "3": None, "4": None, "5": 6}
    assert results["mean"] == round((30 + 10) / 11, 2) and results["mean_moe"] == 0
    assert {c["key"]: (c["answers"], c["mean"]) for c in results["by_tenant"]} == {
        key_a: (6, 5.0),
        key_b: (5, 2.0),
    }
    shown = {c["key"]: c["answers"] for c in results["by_user_type"] if c["answers"] is not None}
    assert shown == {"basic_user": 6, "it_admin": 5}
    assert {(c["text"], c["tenant"], c["user_type"]) for c in results["comments"]} == {
        ("fast", key_a, "basic_user"),
        ("needs filters", key_b, "it_admin"),
    }


def test_nps_trend_across_a_series(client):
    first = create(client, kind="survey", question=nps_question(), link=None, series="quarterly-nps")
    answer_as(client, first, [(10, TENANT_A, (), None)] * 5 + [(0, TENANT_A, (), None)] * 5)
    patch(client, first["id"], {"status": "archived"})
    client.clock.advance(days=90)
    second = create(client, kind="survey", question=nps_question(), link=None, series="quarterly-nps")
    answer_as(client, second, [(10, TENANT_A, (), None)] * 5 + [(8, TENANT_A, (), None)] * 5)
    client.clock.advance(**FIRST)
    third = create(
        client,
        kind="survey",
        question=nps_question(),
        link=None,
        series="quarterly-nps",
        starts_at=iso(client.clock.now - timedelta(minutes=30)),
    )
    answer_as(client, third, [(10, TENANT_A, (), None)] * 6)
    trend = client.get(f"/api/authoring/items/{second['id']}/results", principal=AUTHOR).json()["trend"]
    assert [(p["id"], p["answers"], p["nps"]) for p in trend] == [
        (first["id"], 10, 0.0),
        (second["id"], 10, 50.0),
    ]  # the third has no snapshot yet: no point


# ---- the readers' survey list (GET /api/reports/surveys) -----------------------------------------


def survey_report(client, principal=READER):
    response = client.get("/api/reports/surveys", principal=principal)
    assert response.status == 200, response.body
    return response.json()


def test_survey_list_needs_reader_author_or_operator(client):
    assert client.get("/api/reports/surveys", principal=None).status == 401
    assert client.get("/api/reports/surveys", principal=ME).status == 403
    assert client.get("/api/reports/surveys", principal=user("x", roles=(ADMIN_ROLE,))).status == 403
    for principal in (READER, AUTHOR, OPS):
        assert survey_report(client, principal) == {"k": 5, "surveys": [], "trends": []}
    assert client.request("POST", "/api/reports/surveys", json_body={}, principal=READER).status == 405
    assert rows(client, ITEMS) == [] and notification_rows(client) == {STATE: [], ANSWERS: []}


def test_survey_list_is_the_results_without_comments_or_ids(client):
    big = create(client, kind="survey", question=nps_question(), link=None, title="Q3 <b>NPS</b>")
    answer_as(
        client,
        big,
        [(10, TENANT_A, (), "great, mail me at user0@contoso.com")] * 6
        + [(8, TENANT_A, (), None)] * 2
        + [(3, TENANT_B, (ADMIN_ROLE,), "too slow")] * 3,
    )
    small = create(client, kind="survey", question={"type": "rating", "text": "Rate search"}, link=None)
    answer_as(client, small, [(4, TENANT_A, (), "secret")] * 4)
    create(client, publish=False, kind="survey", question=nps_question(), link=None)  # a draft: nobody's
    create(client)  # a notification: not a survey
    client.clock.advance(**FIRST)
    report = survey_report(client)
    assert report["k"] == 5
    listed = {s["id"]: s for s in report["surveys"]}
    assert set(listed) == {big["id"], small["id"]}
    results = client.get(f"/api/authoring/items/{big['id']}/results", principal=READER).json()
    entry = listed[big["id"]]
    for field in ("answers", "suppressed", "distribution", "nps", "nps_groups", "mean", "question", "as_of"):
        assert entry[field] == results[field], field  # one snapshot
    assert entry["by_user_type"] == results["by_user_type"] and entry["by_tenant"] == results["by_tenant"]
    assert entry["title"] == "Q3 <b>NPS</b>" and entry["status"] == "published"
    assert entry["answers"] == 11 and entry["nps"] == round(100 * (6 - 3) / 11, 1)
    assert entry["nps_groups"] == {"promoters": 6, "passives": None, "detractors": None}
    assert entry["distribution"] == nps_buckets(s10=6)
    assert entry["by_tenant"] == [
        {
            "key": client.services.tenants.key_of(TENANT_A),
            "answers": 8,
            "moe": 0.0,
            "nps": 75.0,
            "nps_moe": 0.0,
            "mean": None,
            "mean_moe": None,
        }
    ]
    under_k = listed[small["id"]]
    assert under_k["suppressed"] is True and under_k["answers"] is None and under_k["mean"] is None
    assert under_k["distribution"] == {} and under_k["by_tenant"] == under_k["by_user_type"] == []
    text = json.dumps(report)
    assert "comments" not in entry and "great" not in text and "secret" not in text and "slow" not in text
    for i in range(11):
        identity = client.services.pseudonymizer.current(TENANT_A, f"user-r{i}")
        assert identity.notification_key not in text and f"user-r{i}" not in text
    assert TENANT_A not in text and TENANT_B not in text and "contoso" not in text
    for survey in report["surveys"]:
        counts = [survey["answers"], *survey["distribution"].values(), *survey["nps_groups"].values()]
        counts += [c["answers"] for c in survey["by_user_type"] + survey["by_tenant"]]
        assert all(n is None or n >= report["k"] for n in counts), survey


def test_survey_list_shows_big_cells_by_tenant_and_user_type(client):
    survey = create(client, kind="survey", question={"type": "rating", "text": "Rate search"}, link=None)
    answer_as(client, survey, [(5, TENANT_A, (), "fast")] * 6 + [(2, TENANT_B, (ADMIN_ROLE,), None)] * 5)
    client.clock.advance(**FIRST)
    [entry] = survey_report(client, AUTHOR)["surveys"]  # authors too get no comments here
    key_a = client.services.tenants.key_of(TENANT_A)
    key_b = client.services.tenants.key_of(TENANT_B)
    assert {c["key"]: (c["answers"], c["mean"]) for c in entry["by_tenant"]} == {
        key_a: (6, 5.0),
        key_b: (5, 2.0),
    }
    shown = {c["key"]: c["answers"] for c in entry["by_user_type"] if c["answers"] is not None}
    assert shown == {"basic_user": 6, "it_admin": 5}
    assert entry["nps"] is None and entry["nps_groups"] == {} and entry["mean"] == round(40 / 11, 2)
    assert "fast" not in json.dumps(entry)


def test_survey_list_gives_each_series_nps_trend(client):
    first = create(client, kind="survey", question=nps_question(), link=None, series="quarterly-nps")
    answer_as(client, first, [(10, TENANT_A, (), None)] * 5 + [(0, TENANT_A, (), None)] * 5)
    patch(client, first["id"], {"status": "archived"})
    client.clock.advance(days=90)
    second = create(client, kind="survey", question=nps_question(), link=None, series="quarterly-nps")
    answer_as(client, second, [(10, TENANT_A, (), None)] * 5 + [(8, TENANT_A, (), None)] * 5)
    lonely = create(client, kind="survey", question=nps_question(), link=None, series="onboarding")
    answer_as(client, lonely, [(9, TENANT_A, (), None)] * 3)
    create(client, kind="survey", question={"type": "rating", "text": "Rate it"}, link=None, series="ratings")
    client.clock.advance(**FIRST)
    report = survey_report(client)
    assert [s["id"] for s in report["surveys"]][-1] == first["id"]  # newest first
    assert {s["id"]: s["status"] for s in report["surveys"]}[first["id"]] == "archived"
    trends = {t["series"]: t["points"] for t in report["trends"]}
    assert set(trends) == {"quarterly-nps"}  # onboarding (3 answers) has no NPS shown; ratings none
    results = client.get(f"/api/authoring/items/{second['id']}/results", principal=READER).json()
    assert trends["quarterly-nps"] == results["trend"]
    assert [(p["id"], p["answers"], p["nps"]) for p in trends["quarterly-nps"]] == [
        (first["id"], 10, 0.0),
        (second["id"], 10, 50.0),
    ]


def test_survey_list_reads_each_survey_once(client, reads):
    for _ in range(3):
        survey = create(client, kind="survey", question=nps_question(), link=None, series="nps")
        answer_as(client, survey, [(9, TENANT_A, (), None)] * 5)
        client.clock.advance(days=30)
    reads["n"] = 0
    survey_report(client)  # takes each survey's due snapshot: + a read of the tenant directory each
    assert reads["n"] <= 1 + 3 + 3
    reads["n"] = 0
    survey_report(client)
    assert reads["n"] <= 1 + 3  # the items, then each survey's answers (trends reuse them)


def test_survey_list_storage_down_is_503(client, monkeypatch):
    create(client, kind="survey", question=nps_question(), link=None)

    def down(*args, **kwargs):
        raise StorageUnavailable("storage is unavailable")

    monkeypatch.setattr(client.services.storage, "query", down)
    monkeypatch.setattr(client.services.storage, "scan", down)
    response = client.get("/api/reports/surveys", principal=READER)
    assert response.status == 503 and response.header("Retry-After")


def test_fold_units():
    assert fold_buckets({"a": 6, "b": 2, "c": 1}, 5) == ({}, 9)
    assert fold_buckets({"a": 6, "b": 7, "c": 1}, 5) == ({"b": 7}, 7)
    assert fold_buckets({"a": 6, "b": 7, "c": 5}, 5) == ({"a": 6, "b": 7, "c": 5}, 0)
    assert fold_buckets({"a": 6, "b": 7, "c": 0}, 5) == ({"a": 6, "b": 7}, 0)


# ---- speed: storage reads per pending request and the instance cache ------------------------------


@pytest.fixture
def reads(client, monkeypatch):
    storage = client.services.storage
    counter = {"n": 0}
    for name in ("get", "query", "scan", "list_tables"):
        original = getattr(storage, name)

        def counted(*args, _original=original, **kwargs):
            counter["n"] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(storage, name, counted)
    return counter


def test_pending_costs_at_most_two_storage_reads(client, reads):
    for i in range(5):
        item = create(client, title=f"item {i}")
        act(client, item["id"], "dismiss") if i == 0 else None
    client.services.notifications.invalidate()
    reads["n"] = 0
    assert len(pending(client)) == 4
    assert reads["n"] == 2  # live items (cache miss) + my state partition
    reads["n"] = 0
    assert len(pending(client, principal=user("x"))) == 5
    assert reads["n"] == 1  # cached items + my state partition


def test_a_publish_reaches_other_instances_within_the_cache_time(client):
    ticks = {"now": 0.0}
    other = Notifications(
        NotificationStore(client.services.storage),
        client.services.pseudonymizer,
        client.clock,
        k=5,
        monotonic=lambda: ticks["now"],
    )
    from shared.privacy.identity import principal_from_header

    me = principal_from_header(ME, client.services.settings)
    assert other.pending(me, None).items == []  # the other instance caches "nothing live"
    item = create(client)  # published on this instance: here at once
    assert ids(pending(client)) == [item["id"]]
    ticks["now"] += 29
    assert other.pending(me, None).items == []
    ticks["now"] += 2  # past CACHE_SECONDS
    assert [i.id for i in other.pending(me, None).items] == [item["id"]]


# ---- failures: 503 and nothing stored -----------------------------------------------------------


def test_vault_down_cold_gives_503_and_stores_nothing(client, vault):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    vault.down = True
    install(
        build(
            client.services.settings,
            storage=client.services.storage,
            salt_source=vault.salt_source(),
            clock=client.clock,
        )
    )
    for response in (
        client.get("/api/notifications"),
        act(client, survey["id"], "seen"),
        act(client, survey["id"], "answer", body={"value": 9, "comment": "x"}),
    ):
        assert response.status == 503 and response.header("Retry-After") == "5"
        assert response.json()["error"]["code"] == "key_vault_unavailable"
    assert notification_rows(client) == {STATE: [], ANSWERS: []}


def test_storage_failing_mid_answer_leaves_the_earlier_answer(client, monkeypatch):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    assert act(client, survey["id"], "answer", body={"value": 4, "comment": "before"}).status == 204
    store = client.services.tables.notifications

    def down(*args, **kwargs):
        raise StorageUnavailable("table storage is unavailable")

    monkeypatch.setattr(store, "save_user_state", down)
    failed = act(client, survey["id"], "answer", body={"value": 10, "comment": "after"})
    assert failed.status == 503 and failed.header("Retry-After") == "5"
    [answer] = rows(client, ANSWERS)
    assert json.loads(answer["value"]) == 4 and answer["comment"] == "before"


def test_storage_down_gives_503_and_stores_nothing(client, monkeypatch):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    storage = client.services.storage

    def down(*args, **kwargs):
        raise StorageUnavailable("table storage is unavailable")

    monkeypatch.setattr(storage, "write_partition", down)
    for response in (
        act(client, survey["id"], "seen"),
        act(client, survey["id"], "answer", body={"value": 9}),
        client.post("/api/authoring/items", item_fields(client), principal=AUTHOR),
    ):
        assert response.status == 503 and response.json()["error"]["code"] == "storage_unavailable"
        assert response.header("Retry-After") == "5"
    monkeypatch.undo()
    assert notification_rows(client) == {STATE: [], ANSWERS: []} and len(rows(client, ITEMS)) == 1


# ---- rights, rotation, retention, logs -------------------------------------------------------------


def rotate(client):
    version = client.vault.rotate()
    client.services.salts._refresh_at = 0
    client.services.salts._listed = None
    return version


def test_rotation_keeps_state_and_one_answer(client):
    note = create(client)
    survey = create(client, kind="survey", question=nps_question(), link=None)
    later = create(client, title="Seen after the rotation")
    act(client, note["id"], "dismiss")
    act(client, survey["id"], "answer", body={"value": 2})
    old_key = client.services.pseudonymizer.current(TENANT_A, "user-me").notification_key
    rotate(client)
    act(client, later["id"], "dismiss")  # a state row under the new key before any GET
    assert pending(client) == []  # state moved to the new key, nothing shown again
    assert len(item_rows(client)) == 3
    assert pending(client) == []  # and once moved, the marker keeps it to one partition read
    new_key = client.services.pseudonymizer.current(TENANT_A, "user-me").notification_key
    assert new_key != old_key
    assert {r["PartitionKey"] for r in rows(client, STATE) if r["RowKey"] != "m"} == {new_key}
    [moved] = rows(client, ANSWERS)  # the answer moved with the state
    assert moved["RowKey"] == new_key and json.loads(moved["value"]) == 2
    assert client.services.retention.run().salt_versions_in_use == [client.services.salts.current().version]


def test_answer_right_after_a_rotation_replaces_the_old_one(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    act(client, survey["id"], "answer", body={"value": 2})
    rotate(client)
    assert act(client, survey["id"], "answer", body={"value": 9}).status == 204  # no GET in between
    [answer] = rows(client, ANSWERS)
    new_key = client.services.pseudonymizer.current(TENANT_A, "user-me").notification_key
    assert answer["RowKey"] == new_key and json.loads(answer["value"]) == 9


def test_export_and_erasure_cover_every_salt_version(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    note = create(client)
    act(client, survey["id"], "answer", body={"value": 6, "comment": "pre-rotation"})
    rotate(client)
    act(client, note["id"], "seen")  # state moves to the new key on the next read; this writes there
    other = user("bystander")
    act(client, note["id"], "seen", principal=other)
    subject = {"user_id": "user-me", "tenant_id": TENANT_A}
    exported = client.post("/api/ops/export", subject, principal=OPS).json()["notifications"]
    assert [a["comment"] for a in exported["answers"]] == ["pre-rotation"]
    assert {s["item"] for s in exported["state"]} == {survey["id"], note["id"]}
    assert len({s["salt_version"] for s in exported["state"]}) == 2
    erased = client.post("/api/ops/erasure", {**subject, "mode": "unlink"}, principal=OPS).json()
    assert erased["notification_rows_deleted"] == 4  # two state rows, the cadence row, one answer
    assert rows(client, ANSWERS) == []
    assert len(rows(client, STATE)) == 1  # the bystander's
    again = client.post("/api/ops/export", subject, principal=OPS).json()["notifications"]
    assert again == {"state": [], "answers": [], "cadence": []}


def test_retention_deletes_old_state_and_answers(client):
    note = create(client)
    survey = create(client, kind="survey", question=nps_question(), link=None)
    act(client, note["id"], "seen")
    act(client, survey["id"], "answer", body={"value": 8})
    patch(client, note["id"], {"status": "archived"})
    client.clock.advance(days=29)
    assert client.services.retention.run().notification_rows_removed == 0
    client.clock.advance(days=2)
    result = client.services.retention.run()
    assert result.notification_rows_removed == 1  # the archived notification's state
    assert [r["RowKey"] for r in item_rows(client)] == [survey["id"]]
    marked = {r["RowKey"]: r.get("state_removed_at") for r in rows(client, ITEMS)}
    assert marked[note["id"]] is not None and marked[survey["id"]] is None  # looked at once only
    client.clock.advance(days=24 * 31)
    # survey state, the cadence row and the answer
    assert client.services.retention.run().notification_rows_removed == 3
    assert notification_rows(client) == {STATE: [], ANSWERS: []}
    items = [r for r in rows(client, ITEMS) if r["PartitionKey"] == "item"]
    assert len(items) == 2  # items are the authors' record, kept
    # and so is each item's released reach, drawn before its state went
    released = [r for r in rows(client, ITEMS) if r["PartitionKey"] == "reach"]
    assert {r["item"] for r in released} == {note["id"], survey["id"]}


def test_no_body_comment_or_identity_in_logs(client, logs):
    survey = create(client, kind="survey", question=nps_question(), link=None, body="Secret-roadmap body")
    act(client, survey["id"], "answer", body={"value": 1, "comment": "My manager Ola Nordmann is awful"})
    client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR)
    text = "\n".join(r.getMessage() for r in logs.records)
    assert "notifications.answered" in text
    for secret in ("Secret-roadmap", "Ola Nordmann", "user-me", TENANT_A, survey["id"], "How likely"):
        assert secret not in text


def test_after_a_rotation_the_move_happens_once(client, reads, vault):
    item = create(client)
    act(client, item["id"], "dismiss")
    rotate(client)
    assert pending(client) == []  # this request moves the state (and writes the marker)
    client.services.notifications.invalidate()
    reads["n"] = 0
    assert pending(client) == []
    assert reads["n"] == 2
    vault.down = True  # the version list cannot be refreshed: notifications keep working
    client.services.salts._listed = None
    assert pending(client, principal=user("new-after-rotation")) != []


def test_openapi_documents_the_routes_from_the_models(client):
    document = client.get("/api/openapi.json", principal=None).json()
    answer = document["paths"]["/api/notifications/{id}/answer"]["post"]
    assert answer["parameters"] == [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 256, "pattern": PRINTABLE},
        }
    ]
    assert "content" not in answer["responses"]["204"] and "404" in answer["responses"]
    listing = document["paths"]["/api/notifications"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["app", "lang"]
    create = document["paths"]["/api/authoring/items"]["post"]
    assert set(create["responses"]) >= {"201", "400", "401", "403", "413", "415", "503"}
    schemas = document["components"]["schemas"]
    assert schemas["SurveyAnswer"]["properties"]["comment"]["anyOf"][0]["maxLength"] == 500
    assert schemas["ItemFields"]["properties"]["title"]["maxLength"] == 120
    assert "comments" in schemas["SurveyResults"]["properties"]


# ---- nothing published gives a count of 1..k-1 people away -----------------------------------------


def results_of(client, survey, principal=AUTHOR):
    response = client.get(f"/api/authoring/items/{survey['id']}/results", principal=principal)
    assert response.status == 200, response.body
    return response.json()


def test_comment_labels_never_name_a_small_tenant_and_user_type_pair(client):
    survey = create(client, kind="survey", question={"type": "rating", "text": "Rate search"}, link=None)
    admin = (ADMIN_ROLE,)
    answer_as(
        client,
        survey,
        [(4, TENANT_A, (), "b-basic")] * 5  # tenant A: 5 basic users...
        + [(4, TENANT_A, admin, "a-only admin of A")]  # ...and its only admin
        + [(4, TENANT_B, admin, "c-admin of B")] * 5,
    )
    client.clock.advance(**FIRST)
    results = results_of(client, survey)
    key_a = client.services.tenants.key_of(TENANT_A)
    # each cell is >= k (A 6, B 5, basic 5, admins 6), but (A, admin) is 1: one label only, for all
    assert {c["key"]: c["answers"] for c in results["by_tenant"]}[key_a] == 6
    shown = {c["key"]: c["answers"] for c in results["by_user_type"] if c["answers"] is not None}
    assert shown == {"basic_user": 5, "it_admin": 6}
    lonely = [c for c in results["comments"] if c["text"] == "a-only admin of A"]
    assert lonely == [{"text": "a-only admin of A", "tenant": key_a, "user_type": None}]
    assert all(c["user_type"] is None for c in results["comments"])
    # ordered by text, never by the per-person key (the same person at the same place every time)
    texts = [c["text"] for c in results["comments"]]
    assert texts == sorted(texts, key=str.casefold)


def test_comments_are_ordered_by_text_not_by_the_notification_key(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    words = ["zebra", "Apple", "mango", "banana", "kiwi", "cherry"]
    answer_as(client, survey, [(10, TENANT_A, (), word) for word in words])
    client.clock.advance(**FIRST)
    texts = [c["text"] for c in results_of(client, survey)["comments"]]
    assert texts == ["Apple", "banana", "cherry", "kiwi", "mango", "zebra"]
    # and again in another survey: the same people, the order still only that of the texts
    again = create(client, kind="survey", question=nps_question(), link=None, title="Again")
    answer_as(client, again, [(10, TENANT_A, (), word[::-1]) for word in words])
    client.clock.advance(**FIRST)
    assert [c["text"] for c in results_of(client, again)["comments"]] == sorted(
        (w[::-1] for w in words), key=str.casefold
    )


def test_results_are_scheduled_snapshots_so_one_answer_cannot_be_read_off_the_difference(client):
    survey = create(client, kind="survey", question={"type": "rating", "text": "Rate search"}, link=None)
    answer_as(client, survey, [(5, TENANT_A, (), None)] * 5)
    client.clock.advance(**FIRST)
    first = results_of(client, survey, READER)
    assert first["answers"] == 5 and first["as_of"] is not None and first["snapshot"] == 1
    client.clock.advance(minutes=1)
    # one more person answers (and another changes their answer): nothing moves before t_2
    act(client, survey["id"], "answer", principal=user("late"), body={"value": 1})
    act(client, survey["id"], "answer", principal=user("r0"), body={"value": 2})
    t = schedule(datetime.fromisoformat(survey["starts_at"]), datetime.fromisoformat(survey["ends_at"]))
    assert first["renewable_at"] == iso(t[1])
    for view in (results_of(client, survey, READER), results_of(client, survey)):
        for field in ("as_of", "answers", "distribution", "mean", "by_user_type", "by_tenant"):
            assert view[field] == first[field], field
    [listed] = survey_report(client)["surveys"]
    assert listed["answers"] == 5 and listed["as_of"] == first["as_of"]
    # at t_2 (whatever the answers): a fresh release of all answers so far
    client.clock.now = t[1]
    renewed = results_of(client, survey, READER)
    assert renewed["answers"] == 6 and renewed["as_of"] != first["as_of"] and renewed["snapshot"] == 2
    assert renewed["distribution"] == {"1": None, "2": None, "3": None, "4": None, "5": None}
    client.clock.advance(hours=1)
    assert results_of(client, survey, READER)["as_of"] == renewed["as_of"]
    # at most MAX_SNAPSHOTS (4), never more often than SNAPSHOT_HOURS
    client.clock.now = t[3] + timedelta(days=30)
    last = results_of(client, survey, READER)
    assert last["snapshot"] == 4 and last["renewable_at"] is None
    client.clock.advance(days=300)
    assert results_of(client, survey, READER)["as_of"] == last["as_of"]
    assert SNAPSHOT_HOURS == 6


def test_snapshot_is_kept_without_a_key_value_or_comment(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(9, TENANT_A, (), "private words")] * 5)
    client.clock.advance(**FIRST)
    results_of(client, survey)
    [snapshot] = [r for r in rows(client, ANSWERS) if r["RowKey"] == "snapshot"]
    assert "private words" not in snapshot["data"] and "user-r" not in snapshot["data"]
    for i in range(5):
        assert (
            client.services.pseudonymizer.current(TENANT_A, f"user-r{i}").notification_key
            not in snapshot["data"]
        )
    assert client.services.retention.run().salt_versions_in_use == [client.services.salts.current().version]
    subject = {"user_id": "user-r0", "tenant_id": TENANT_A}
    exported = client.post("/api/ops/export", subject, principal=OPS).json()["notifications"]
    assert len(exported["answers"]) == 1  # the snapshot is nobody's answer


# ---- endpoints: refused and failed changes, storage trouble, salt versions, old snapshots --------


@pytest.mark.parametrize(
    "changes",
    [
        {"title": ""},
        {"link": "javascript:alert(1)"},
        {"ends_at": "2020-01-01T00:00:00Z"},
        {"kind": "survey"},
        {"status": "deleted"},
        {"owner": "me"},
        {"audience": {"user_types": ["root"]}},
    ],
)
def test_rejected_patches_leave_the_item_unchanged(client, changes):
    item = create(client)
    before = rows(client, ITEMS)
    client.clock.advance(minutes=5)
    response = client.request(
        "PATCH", f"/api/authoring/items/{item['id']}", json_body=changes, principal=AUTHOR
    )
    assert response.status == 400, response.body
    assert rows(client, ITEMS) == before
    assert client.get(f"/api/authoring/items/{item['id']}", principal=AUTHOR).json() == item


def test_locked_and_archived_patches_leave_the_item_unchanged(client):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    before = rows(client, ITEMS)
    patch(client, survey["id"], {"question": {"type": "rating", "text": "Rate"}, "title": "x"}, status=400)
    assert rows(client, ITEMS) == before
    patch(client, survey["id"], {"status": "archived"})
    archived = rows(client, ITEMS)
    patch(client, survey["id"], {"title": "again", "status": "archived"}, status=400)
    assert rows(client, ITEMS) == archived


def storage_down(monkeypatch, storage):
    def down(*args, **kwargs):
        raise StorageUnavailable("table storage is unavailable")

    for name in ("get", "query", "scan", "write_partition"):
        monkeypatch.setattr(storage, name, down)


def test_author_and_report_routes_give_503_with_retry_after_when_storage_is_down(client, monkeypatch):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(9, TENANT_A, (), None)] * 5)
    before = {base: rows(client, base) for base in (ITEMS, STATE, ANSWERS)}
    storage_down(monkeypatch, client.services.storage)
    for response in (
        client.request(
            "PATCH", f"/api/authoring/items/{survey['id']}", json_body={"title": "x"}, principal=AUTHOR
        ),
        client.get("/api/authoring/items", principal=AUTHOR),
        client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR),
        client.get("/api/reports/surveys", principal=READER),
    ):
        assert response.status == 503, response.body
        assert response.header("Retry-After") == "5"
        assert response.json()["error"]["code"] == "storage_unavailable"
    monkeypatch.undo()
    assert {base: rows(client, base) for base in (ITEMS, STATE, ANSWERS)} == before


def test_snapshot_write_failing_is_503_and_the_next_read_takes_it(client, monkeypatch):
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(9, TENANT_A, (), None)] * 5)
    client.clock.advance(**FIRST)
    storage = client.services.storage
    real = storage.write_partition

    def down(*args, **kwargs):
        raise StorageUnavailable("table storage is unavailable")

    monkeypatch.setattr(storage, "write_partition", down)
    failed = client.get(f"/api/authoring/items/{survey['id']}/results", principal=READER)
    assert failed.status == 503 and failed.header("Retry-After") == "5"
    monkeypatch.setattr(storage, "write_partition", real)
    assert results_of(client, survey, READER)["answers"] == 5


def test_patch_failing_to_write_is_503_and_leaves_the_item(client, monkeypatch):
    item = create(client)
    before = rows(client, ITEMS)

    def down(*args, **kwargs):
        raise StorageUnavailable("table storage is unavailable")

    monkeypatch.setattr(client.services.storage, "write_partition", down)
    response = client.request(
        "PATCH", f"/api/authoring/items/{item['id']}", json_body={"title": "Changed"}, principal=AUTHOR
    )
    assert response.status == 503 and response.header("Retry-After") == "5"
    monkeypatch.undo()
    assert rows(client, ITEMS) == before
    assert ids(pending(client)) == [item["id"]] and pending(client)[0]["title"] == item["title"]


def test_a_tenants_answers_under_two_salt_versions_land_in_one_cell_with_its_directory_key(client):
    """Results are grouped by the stable tenant key, not the rotating reference: 3 answers before
    and 3 after a rotation are one cell of 6 (>= k) under the key the directory names, never two
    cells of 3 (each under k, folded) under two references."""
    named = client.put(f"/api/ops/tenants/{TENANT_A}", {"name": "Contoso"}, principal=OPS)
    assert named.status == 200, named.body
    key = named.json()["tenant"]
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(10, TENANT_B, (), None)] * 5)
    for i in range(3):
        act(client, survey["id"], "answer", principal=user(f"before-{i}"), body={"value": 9})
    rotate(client)
    for i in range(3):
        act(client, survey["id"], "answer", principal=user(f"after-{i}"), body={"value": 10})
    refs = {r["tenant"] for r in rows(client, ANSWERS)}
    assert len(refs) == 3  # A under two salt versions, B under the new one
    client.clock.advance(**FIRST)
    results = client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR).json()
    key_b = client.services.tenants.key_of(TENANT_B)
    assert {c["key"]: c["answers"] for c in results["by_tenant"]} == {key: 6, key_b: 5}
    [entry] = survey_report(client)["surveys"]
    assert entry["by_tenant"] == results["by_tenant"]
    directory = client.get("/api/reports/tenants", principal=READER).json()
    assert {t["tenant"]: t["name"] for t in directory["tenants"]}[key] == "Contoso"


def test_a_snapshot_of_the_k_rule_is_no_release_and_is_replaced_when_one_is_due(client):
    """Snapshots taken under the k rule (before results were released with noise) are not
    releases: not shown, and replaced by the first scheduled snapshot."""
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(10, TENANT_A, (), None)] * 5 + [(3, TENANT_B, (), None)] * 5)
    old = {
        "as_of": iso(client.clock.now),
        "answers": 10,
        "suppressed": False,
        "distribution": {"(other)": 10},
    }
    NotificationStore(client.services.storage).save_snapshot(
        SnapshotRecord(survey["id"], client.clock.now, json.dumps(old))
    )
    assert results_of(client, survey)["answers"] is None
    client.clock.advance(**FIRST)
    results = results_of(client, survey)
    keys = {client.services.tenants.key_of(TENANT_A): 5, client.services.tenants.key_of(TENANT_B): 5}
    assert {c["key"]: c["answers"] for c in results["by_tenant"]} == keys
    assert {c["nps"] for c in results["by_tenant"]} == {100.0, -100.0}
