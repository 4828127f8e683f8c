"""Issue 25 on the server: survey cadence, the feed, languages, reach, duplicate, the authors'
settings and tenant directory, through the registered routes against Azurite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.privacy.disclosure.reach import Released, release_reach, release_reach_days
from shared.storage.notifications import STATE
from testing.principal import STAFF_TENANT_ID, principal_header

TENANT_A = "aaaa0000-1111-2222-3333-444455556666"
AUTHOR = principal_header(
    user_id="author-oid", tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Author",)
)
READER = principal_header(
    user_id="reader-oid", tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Reader",)
)
OPS = principal_header(user_id="ops-oid", tenant_id=STAFF_TENANT_ID, roles=("Cetegra.Analytics.Operator",))
CADENCE = {
    "SURVEY_FIRST_DAY": "3",
    "SURVEY_INTERVAL_DAYS": "7",
    "SURVEY_PAUSE_AFTER_ANSWER_DAYS": "30",
    "SURVEY_PAUSE_AFTER_DISMISS_DAYS": "14",
}


def user(i: int | str, tenant: str = TENANT_A) -> str:
    return principal_header(user_id=f"user-{i}", tenant_id=tenant)


ME = user("me")


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def create(client, publish=True, **fields):
    now = client.clock.now
    body = {
        "kind": "notification",
        "title": "New: saved searches",
        "body": "Save any search.",
        "starts_at": iso(now - timedelta(hours=1)),
        "ends_at": iso(now + timedelta(days=120)),
        **fields,
    }
    response = client.post("/api/authoring/items", body, principal=AUTHOR)
    assert response.status == 201, response.body
    item = response.json()
    if publish:
        response = client.request(
            "PATCH", f"/api/authoring/items/{item['id']}", json_body={"status": "published"}, principal=AUTHOR
        )
        assert response.status == 200, response.body
        item = response.json()
    return item


def survey(client, text="How likely are you to recommend us?", **fields):
    return create(client, kind="survey", question={"type": "nps", "text": text}, **fields)


def feed(client, principal=ME, query=""):
    response = client.get(f"/api/notifications{query}", principal=principal)
    assert response.status == 200, response.body
    return response.json()


def act(client, item_id, action, principal=ME, body=None):
    return client.post(f"/api/notifications/{item_id}/{action}", body or {}, principal=principal)


@pytest.fixture
def client(make_client):
    return make_client(**CADENCE)


# ---- cadence --------------------------------------------------------------------------------------


def test_no_survey_before_the_users_third_day_but_notifications_at_once(client):
    note = create(client)
    nps = survey(client)
    assert [i["id"] for i in feed(client)["items"]] == [note["id"]]  # day 1: first seen now
    client.clock.advance(days=1)
    assert [i["id"] for i in feed(client)["items"]] == [note["id"]]  # day 2
    client.clock.advance(days=1)
    assert {i["id"] for i in feed(client)["items"]} == {note["id"], nps["id"]}  # day 3


def test_one_survey_prompt_per_interval_and_pauses_after_answer_and_dismissal(client):
    feed(client)  # first seen
    client.clock.advance(days=3)
    first, second = survey(client, "First?"), survey(client, "Second?")
    offered = [i for i in feed(client)["items"] if i["kind"] == "survey"]
    assert len(offered) == 1  # one survey at a time
    shown = offered[0]["id"]
    assert act(client, shown, "seen").status == 204  # a prompt
    assert [i for i in feed(client)["items"] if i["kind"] == "survey"] == []  # "not now": not again at once
    client.clock.advance(days=7)
    [again] = [i for i in feed(client)["items"] if i["kind"] == "survey"]
    assert again["id"] == shown and again["seen"] is True
    assert act(client, shown, "answer", body={"value": 9}).status == 204
    client.clock.advance(days=29)
    assert [i for i in feed(client)["items"] if i["kind"] == "survey"] == []  # pause after an answer
    client.clock.advance(days=1)
    [other] = [i for i in feed(client)["items"] if i["kind"] == "survey"]
    assert other["id"] == ({first["id"], second["id"]} - {shown}).pop()
    assert act(client, other["id"], "dismiss").status == 204
    third = survey(client, "Third?")
    client.clock.advance(days=13)
    assert [i for i in feed(client)["items"] if i["kind"] == "survey"] == []  # pause after a dismissal
    client.clock.advance(days=1)
    assert [i["id"] for i in feed(client)["items"] if i["kind"] == "survey"] == [third["id"]]


def test_authors_read_the_cadence(client):
    response = client.get("/api/authoring/settings", principal=AUTHOR)
    assert response.status == 200
    body = response.json()
    assert body["cadence"] == {
        "first_day": 3,
        "interval_days": 7,
        "pause_after_answer_days": 30,
        "pause_after_dismiss_days": 14,
    }
    assert body["k"] == 5 and set(body["languages"]) >= {"nb", "en"}
    assert client.get("/api/authoring/settings", principal=ME).status == 403
    assert client.get("/api/authoring/settings", principal=READER).status == 403


# ---- the feed -------------------------------------------------------------------------------------


def test_feed_keeps_read_items_until_dismissed_or_ended_and_counts_unread(client):
    one, two = (
        create(client, title="One"),
        create(client, title="Two", ends_at=iso(client.clock.now + timedelta(days=2))),
    )
    body = feed(client)
    assert body["unread"] == 2 and {i["seen"] for i in body["items"]} == {False}
    act(client, one["id"], "seen")
    body = feed(client)
    assert body["unread"] == 1 and len(body["items"]) == 2
    assert {i["id"]: i["seen"] for i in body["items"]} == {one["id"]: True, two["id"]: False}
    client.clock.advance(days=2)  # two has ended
    body = feed(client)
    assert [i["id"] for i in body["items"]] == [one["id"]] and body["unread"] == 0
    act(client, one["id"], "dismiss")
    assert feed(client) == {"items": [], "unread": 0}


def test_opened_is_recorded_once(client):
    note = create(client, link="https://docs.cetegra.example/x")
    assert act(client, note["id"], "opened").status == 204
    [item] = feed(client)["items"]
    assert item["opened"] is True and item["seen"] is True
    before = [r for r in client.stored()[client.services.storage.table(STATE)]]
    client.clock.advance(minutes=1)
    assert act(client, note["id"], "opened").status == 204
    assert [r for r in client.stored()[client.services.storage.table(STATE)]] == before
    assert act(client, "0" * 32, "opened").status == 404


# ---- languages ------------------------------------------------------------------------------------


def test_items_are_served_in_the_preferred_language_with_fallback(client):
    feed(client)
    client.clock.advance(days=3)
    create(
        client,
        title="Saved searches",
        body="Save any search.",
        language="en",
        translations={"nb": {"title": "Lagrede søk", "body": "Lagre et søk."}},
    )
    choice = create(
        client,
        kind="survey",
        title="Which?",
        question={"type": "choice", "text": "Which module?", "options": ["Search", "Cases"]},
        translations={"nb": {"title": "Hvilken?", "question": "Hvilken modul?", "options": ["Søk", "Saker"]}},
    )
    by_kind = {i["kind"]: i for i in feed(client, query="?lang=nb-NO,en")["items"]}
    assert by_kind["notification"]["title"] == "Lagrede søk" and by_kind["notification"]["language"] == "nb"
    assert by_kind["survey"]["question"] == {
        "type": "choice",
        "text": "Hvilken modul?",
        "options": ["Søk", "Saker"],
    }
    assert feed(client, query="?lang=no")["items"][0]["language"] == "nb"  # Norwegian reads Bokmål
    english = {i["kind"]: i for i in feed(client, query="?lang=de,en")["items"]}
    assert (
        english["notification"]["title"] == "Saved searches" and english["notification"]["language"] == "en"
    )
    fallback = feed(client, query="?lang=sv")["items"]
    assert {i["language"] for i in fallback} == {"en"}
    # the answer may name the option as shown; the stored value is the default language's
    assert act(client, choice["id"], "answer", body={"value": "Saker"}).status == 204
    [answer] = client.stored()[client.services.storage.table("notifyanswers")]
    assert answer["value"] == '"Cases"'
    assert client.get("/api/notifications?lang=%3Cscript%3E", principal=ME).status == 400


@pytest.mark.parametrize(
    ("translations", "field"),
    [
        ({"en": {"title": "Same as default"}}, "translations"),
        ({"NB": {"title": "x"}}, "translations"),
        ({"nb": {"question": "Hvorfor?"}}, "translations"),
        ({"nb": {"title": ""}}, "translations.nb.title"),
        ({"nb": {"colour": "red"}}, "translations.nb.colour"),
    ],
)
def test_bad_translations_are_400_naming_the_field_and_store_nothing(client, translations, field):
    now = client.clock.now
    body = {
        "kind": "notification",
        "title": "T",
        "starts_at": iso(now),
        "ends_at": iso(now + timedelta(days=1)),
        "translations": translations,
    }
    response = client.post("/api/authoring/items", body, principal=AUTHOR)
    assert response.status == 400, response.body
    error = response.json()["error"]
    assert error["code"] and (error.get("field") or "").startswith(field.split(".")[0])
    assert client.get("/api/authoring/items", principal=AUTHOR).json()["items"] == []


# ---- reach ----------------------------------------------------------------------------------------


def test_release_reach_hides_counts_under_k_never_as_zero():
    assert release_reach({"seen": 0, "opened": 4, "delivered": 5}, 5) == {
        "seen": Released(None, True),
        "opened": Released(None, True),
        "delivered": Released(5, False),
    }
    # per day: the hidden days may not sum to 1..k-1 beside a shown total
    days = release_reach_days({"2026-12-01": 7, "2026-12-02": 6, "2026-12-03": 2}, 5)
    assert days["2026-12-03"].hidden and days["2026-12-02"].hidden and days["2026-12-01"].count == 7
    assert all(r.hidden for r in release_reach_days({"a": 2, "b": 1}, 5).values())


def test_reach_of_a_notification_and_a_survey(client):
    note = create(client, link="https://docs.cetegra.example/x")
    nps = survey(client, starts_at=iso(client.clock.now - timedelta(days=5)))
    people = [user(i) for i in range(7)]
    for p in people:
        feed(client, principal=p)
    for p in people[:6]:
        act(client, note["id"], "seen", principal=p)
    for p in people[:2]:
        act(client, note["id"], "opened", principal=p)
    client.clock.advance(days=3)
    for p in people:
        feed(client, principal=p)
    for p in people[:5]:
        act(client, nps["id"], "answer", principal=p, body={"value": 9})
    act(client, nps["id"], "dismiss", principal=people[5])

    reach = client.get(f"/api/authoring/items/{note['id']}/reach", principal=AUTHOR)
    assert reach.status == 200, reach.body
    body = reach.json()
    assert body["measures"] == ["delivered", "seen", "opened", "dismissed"]
    assert body["totals"]["delivered"] == {"count": 7, "hidden": False}
    assert body["totals"]["seen"] == {"count": 6, "hidden": False}
    assert body["totals"]["opened"] == {"count": None, "hidden": True}  # 2 people: hidden
    assert body["totals"]["dismissed"] == {"count": None, "hidden": True}  # 0: hidden too, never 0
    [day] = body["days"]
    assert day["figures"]["seen"] == {"count": 6, "hidden": False}

    body = client.get(f"/api/authoring/items/{nps['id']}/reach", principal=AUTHOR).json()
    assert body["measures"] == ["delivered", "prompted", "answered", "dismissed"]
    assert body["totals"]["answered"] == {"count": 5, "hidden": False}
    assert body["totals"]["prompted"] == {"count": 6, "hidden": False}
    assert body["totals"]["dismissed"]["hidden"] is True

    listing = client.get("/api/authoring/reach", principal=AUTHOR).json()
    assert {i["id"]: i["totals"]["delivered"]["count"] for i in listing["items"]} == {
        note["id"]: 7,
        nps["id"]: 7,
    }
    assert client.get(f"/api/authoring/items/{note['id']}/reach", principal=READER).status == 403
    assert client.get(f"/api/authoring/items/{'0' * 32}/reach", principal=AUTHOR).status == 404
    # the reach survives retention removing the item's state
    client.request(
        "PATCH", f"/api/authoring/items/{note['id']}", json_body={"status": "archived"}, principal=AUTHOR
    )
    client.clock.advance(days=31)
    client.services.retention.run()
    kept = client.get(f"/api/authoring/items/{note['id']}/reach", principal=AUTHOR).json()
    assert kept["totals"]["seen"] == {"count": 6, "hidden": False}


# ---- authoring: duplicate, tenant directory --------------------------------------------------------


def test_duplicate_makes_a_draft_copy(client):
    nps = survey(client, translations={"nb": {"question": "Hvor sannsynlig?"}})
    response = client.post(f"/api/authoring/items/{nps['id']}/duplicate", {}, principal=AUTHOR)
    assert response.status == 201, response.body
    copy = response.json()
    assert copy["id"] != nps["id"] and copy["status"] == "draft" and copy["published_at"] is None
    assert copy["question"] == nps["question"] and copy["translations"] == nps["translations"]
    assert client.post(f"/api/authoring/items/{'0' * 32}/duplicate", {}, principal=AUTHOR).status == 404
    assert client.post(f"/api/authoring/items/{nps['id']}/duplicate", {}, principal=READER).status == 403


def test_authors_read_tenant_names_and_keys_but_no_counts(client):
    named = client.put(f"/api/ops/tenants/{TENANT_A}", {"name": "Contoso"}, principal=OPS).json()
    response = client.get("/api/authoring/tenants", principal=AUTHOR)
    assert response.status == 200
    assert response.json() == {"tenants": [{"tenant": named["tenant"], "name": "Contoso"}]}
    assert client.get("/api/authoring/tenants", principal=OPS).status == 200
    assert client.get("/api/authoring/tenants", principal=READER).status == 403
    assert client.get("/api/authoring/tenants", principal=ME).status == 403


# ---- results freshness ------------------------------------------------------------------------------


def test_results_say_what_waits_for_the_next_snapshot_and_live_only_inside_the_window(client):
    nps = survey(client, ends_at=iso(client.clock.now + timedelta(days=2)))
    for i in range(5):
        assert act(client, nps["id"], "answer", principal=user(i), body={"value": 9}).status == 204
    first = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert first["answers"] == 5 and first["live"] is True
    assert first["waiting"] == {"count": None, "hidden": True}  # 0 waiting: under k, hidden
    taken = first["as_of"]
    client.clock.advance(minutes=1)
    for i in range(5, 7):
        act(client, nps["id"], "answer", principal=user(i), body={"value": 3})
    later = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert later["answers"] == 5 and later["waiting"] == {"count": None, "hidden": True}
    assert later["renewable_at"].startswith(iso(client.clock.now + timedelta(hours=6))[:14])
    assert later["as_of"] == taken
    for i in range(7, 10):
        act(client, nps["id"], "answer", principal=user(i), body={"value": 3})
    waiting = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert waiting["waiting"] == {"count": 5, "hidden": False} and waiting["answers"] == 5
    client.clock.advance(days=3)
    ended = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert ended["live"] is False and ended["answers"] == 10  # renewed: 6 hours and k answers later
    assert ended["waiting"]["hidden"] is True
    [summary] = client.get("/api/reports/surveys", principal=READER).json()["surveys"]
    assert summary["live"] is False and summary["answers"] == 10


def test_the_new_author_routes_are_audited_with_what_was_acted_on(client):
    note = create(client, publish=False)
    client.get(f"/api/authoring/items/{note['id']}/reach", principal=AUTHOR)
    copy = client.post(f"/api/authoring/items/{note['id']}/duplicate", {}, principal=AUTHOR).json()
    client.get("/api/authoring/reach", principal=AUTHOR)
    client.get("/api/authoring/settings", principal=AUTHOR)
    client.get("/api/authoring/tenants", principal=READER)  # denied, audited too
    records = client.services.tables.audit.day(client.clock.now.date())
    targets = {(r.operation, r.status): r.target for r in records}
    assert targets[("GET /api/authoring/items/{id}/reach", 200)] == "item:" + note["id"]
    assert targets[("POST /api/authoring/items/{id}/duplicate", 201)] == "item:" + copy["id"]
    assert ("GET /api/authoring/reach", 200) in targets and ("GET /api/authoring/settings", 200) in targets
    assert ("GET /api/authoring/tenants", 403) in targets
