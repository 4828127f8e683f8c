"""Notifications and surveys on the server: survey cadence, the feed, languages, reach, duplicate,
the authors' settings and tenant directory, through the registered routes against Azurite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.privacy.disclosure.reach import Released, figure, first_items, total
from shared.privacy.disclosure.releases import REACH_ITEMS_PER_MONTH
from shared.storage.notifications import ITEMS, REACH_PARTITION, STATE
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


def test_reach_figures_hide_under_the_threshold_never_as_zero():
    # exact mode (sigma 0): the threshold is k
    assert figure(0, 0.0, 5) == Released(None, True, 0.0)
    assert figure(4, 0.0, 5) == Released(None, True, 0.0)
    assert figure(5, 0.0, 5) == Released(5, False, 0.0)
    # with noise: at least 1.645 sigma, margin 1.96 sigma
    assert figure(41, 25.0, 5).hidden and figure(42, 25.0, 5) == Released(42, False, 49.0)
    # a total sums every released day, hidden ones too, with sigma * sqrt(days)
    assert total([3, 2], 0.0, 5) == Released(5, False, 0.0)
    assert total([], 25.0, 5) == Released(None, True, 0.0)
    four = total([30, 30, 30, 30], 25.0, 5)  # threshold 1.645 * 50 = 82.25, margin 98
    assert four == Released(120, False, 98.0)
    assert total([20, 20, 20, 20], 25.0, 5) == Released(None, True, 98.0)


def test_a_person_counts_in_their_first_items_of_each_month():
    day = datetime(2026, 11, 2, tzinfo=UTC)
    actions = [(f"i{n:02d}", day + timedelta(hours=n)) for n in range(REACH_ITEMS_PER_MONTH + 1)]
    kept = first_items(actions)
    assert ("i20", "2026-11") not in kept and ("i19", "2026-11") in kept and len(kept) == 20
    # a later action on an earlier item does not push out a counted one; a new month starts afresh
    later = [*actions, ("i20", day + timedelta(days=30)), ("i00", day + timedelta(days=5))]
    assert first_items(later) == kept | {("i20", "2026-12")}


def reach_of(client, item_id):
    response = client.get(f"/api/authoring/items/{item_id}/reach", principal=AUTHOR)
    assert response.status == 200, response.body
    return response.json()


SHOWN = lambda n: {"count": n, "hidden": False, "moe": 0.0}  # noqa: E731 — exact mode
HIDDEN = {"count": None, "hidden": True, "moe": 0.0}


def test_reach_of_a_notification_and_a_survey(client):
    start = client.clock.now.date()
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
    client.clock.advance(days=1)  # the survey's day closes: released
    today = client.clock.now.date()

    body = reach_of(client, note["id"])
    assert body["measures"] == ["delivered", "seen", "opened", "dismissed"]
    assert body["totals"]["delivered"] == SHOWN(7)
    assert body["totals"]["seen"] == SHOWN(6)
    assert body["totals"]["opened"] == HIDDEN  # 2 people: hidden
    assert body["totals"]["dismissed"] == HIDDEN  # 0: hidden too, never 0
    # every day of the window up to yesterday (zeros included), then today, not released
    assert [d["day"] for d in body["days"]] == [(start + timedelta(days=n)).isoformat() for n in range(5)]
    assert body["days"][-1] == {"day": today.isoformat(), "released": False, "figures": {}}
    assert body["released_through"] == (today - timedelta(days=1)).isoformat()
    first, second = body["days"][0], body["days"][1]
    assert first["released"] and first["figures"]["seen"] == SHOWN(6) and first["figures"]["opened"] == HIDDEN
    assert second["figures"] == dict.fromkeys(body["measures"], HIDDEN)

    body = reach_of(client, nps["id"])
    assert body["measures"] == ["delivered", "prompted", "answered", "dismissed"]
    assert body["totals"]["answered"] == SHOWN(5)
    assert body["totals"]["prompted"] == SHOWN(6)
    assert body["totals"]["dismissed"]["hidden"] is True and body["totals"]["dismissed"]["count"] is None
    assert len(body["days"]) == 10 and body["days"][0]["day"] == (start - timedelta(days=5)).isoformat()

    listing = client.get("/api/authoring/reach", principal=AUTHOR).json()
    assert {i["id"]: i["totals"]["delivered"]["count"] for i in listing["items"]} == {
        note["id"]: 7,
        nps["id"]: 7,
    }
    assert client.get(f"/api/authoring/items/{note['id']}/reach", principal=READER).status == 403
    assert client.get(f"/api/authoring/items/{'0' * 32}/reach", principal=AUTHOR).status == 404
    # the reach survives retention removing the item's state (its released days are kept)
    client.request(
        "PATCH", f"/api/authoring/items/{note['id']}", json_body={"status": "archived"}, principal=AUTHOR
    )
    client.clock.advance(days=31)
    client.services.retention.run()
    kept = reach_of(client, note["id"])
    assert kept["totals"]["seen"] == SHOWN(6) and all(d["released"] for d in kept["days"])


def test_the_open_day_is_not_released(client):
    note = create(client)
    for i in range(6):
        feed(client, principal=user(i))
        act(client, note["id"], "seen", principal=user(i))
    today = reach_of(client, note["id"])
    assert today["days"] == [{"day": client.clock.now.date().isoformat(), "released": False, "figures": {}}]
    assert today["totals"]["seen"] == HIDDEN and today["released_through"] is None
    storage = client.services.storage
    assert storage.partition(storage.table(ITEMS), REACH_PARTITION) == []  # nothing stored for today
    client.clock.advance(days=1)
    closed = reach_of(client, note["id"])
    assert closed["days"][0]["released"] and closed["days"][0]["figures"]["seen"] == SHOWN(6)
    assert closed["totals"]["seen"] == SHOWN(6) and closed["days"][1]["released"] is False


def test_a_day_is_released_once(make_client):
    client = make_client(RELEASE_NOISE="true", **CADENCE)
    note = create(client, starts_at=iso(client.clock.now - timedelta(days=3)))
    for i in range(30):
        feed(client, principal=user(i))
        act(client, note["id"], "seen", principal=user(i))
    client.clock.advance(days=1)
    first = reach_of(client, note["id"])
    assert first["totals"]["seen"]["moe"] == 98.0  # 1.96 * 25 * sqrt(4 days)
    assert all(f["moe"] == 49.0 for d in first["days"] if d["released"] for f in d["figures"].values())
    assert all(f["count"] is None for d in first["days"] for f in d["figures"].values() if f["hidden"])
    # more actions on the released day cannot happen; a second read, the list and a retention run
    # return the stored release, never a new draw
    assert reach_of(client, note["id"]) == first
    listing = client.get("/api/authoring/reach", principal=AUTHOR).json()
    assert listing["items"][0]["totals"] == first["totals"]
    client.services.retention.run()
    assert reach_of(client, note["id"]) == first
    client.clock.advance(days=1)  # only the new day is drawn
    later = reach_of(client, note["id"])
    assert later["days"][:4] == first["days"][:4] and later["days"][4]["released"]


def test_a_person_beyond_their_monthly_items_is_not_counted(client):
    notes = sorted(
        (create(client, title=f"Note {n}") for n in range(REACH_ITEMS_PER_MONTH + 1)), key=lambda i: i["id"]
    )
    for i in range(5):
        assert len(feed(client, principal=user(i))["items"]) == len(notes)
    client.clock.advance(days=1)
    listing = client.get("/api/authoring/reach", principal=AUTHOR).json()
    delivered = {i["id"]: i["totals"]["delivered"] for i in listing["items"]}
    # delivered the same day: their first 20 by item id count, the 21st does not
    assert [delivered[n["id"]] for n in notes] == [SHOWN(5)] * REACH_ITEMS_PER_MONTH + [HIDDEN]


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


def test_results_say_when_the_next_snapshot_comes_and_live_only_inside_the_window(client):
    nps = survey(client, ends_at=iso(client.clock.now + timedelta(days=2)))
    for i in range(5):
        assert act(client, nps["id"], "answer", principal=user(i), body={"value": 9}).status == 204
    before = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert before["answers"] is None and before["live"] is True and before["snapshot"] == 0
    assert before["renewable_at"] is not None  # when the first results come
    client.clock.now = datetime.fromisoformat(before["renewable_at"])
    first = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert first["answers"] == 5 and first["waiting"] is None and first["snapshot"] == 1
    taken = first["as_of"]
    client.clock.advance(minutes=1)
    for i in range(5, 10):
        act(client, nps["id"], "answer", principal=user(i), body={"value": 3})
    later = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert later["answers"] == 5 and later["waiting"] is None and later["as_of"] == taken
    assert later["renewable_at"] == first["renewable_at"] > taken
    client.clock.advance(days=3)
    ended = client.get(f"/api/authoring/items/{nps['id']}/results", principal=AUTHOR).json()
    assert ended["live"] is False and ended["answers"] == 10 and ended["snapshot"] == 4
    assert ended["waiting"] is None and ended["renewable_at"] is None
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
