"""Property-based tests (hypothesis): the parsers never crash and never let forbidden data through."""

from __future__ import annotations

import base64
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.ingestion.catalogues import (
    APPS,
    PAGES,
    UNLISTED,
    AppCatalogue,
    CatalogueError,
    PageCatalogue,
    app_id,
    page_template,
)
from shared.ingestion.events import MAX_EVENTS, EventBatch, minimise_page
from shared.kernel.errors import Unauthenticated
from shared.kernel.settings import Settings
from shared.privacy.consent import ConsentDecision
from shared.privacy.identity import principal_from_header

SETTINGS = Settings.from_env(
    {
        "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "DEV_SALT_FILE": "/tmp/unused",
        "POLICY_VERSION": "2026-04",
    }
)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

url_tokens = st.sampled_from(
    [
        *"abcdefghijklmnopqrstuvwxyzABC0123456789/-_.@?#%:=&+~!$'()*,;[] ",
        "%40",
        "%2F",
        "%3F",
        "%2E",
        "//",
        "://",
    ]
)
segments = st.one_of(
    st.uuids().map(str),
    st.emails(),
    st.integers(0, 10**12).map(str),
    st.text(alphabet="abcdef0123456789", min_size=8, max_size=40),
    st.from_regex(r"[a-z]{1,12}(-[a-z]{1,8})?", fullmatch=True),
)
paths = st.lists(segments, max_size=8).map(lambda parts: "/" + "/".join(parts))
queries = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.text(max_size=20), max_size=3)
pages = st.one_of(
    st.lists(url_tokens, max_size=60).map("".join),
    st.text(max_size=120),
    st.builds(
        lambda scheme, host, path, q, frag: (
            f"{scheme}://{host}{path}?{'&'.join(f'{k}={v}' for k, v in q.items())}#{frag}"
        ),
        st.sampled_from(["https", "http", "ftp"]),
        st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True),
        paths,
        queries,
        st.text(max_size=10),
    ),
    paths,
)


@FAST
@given(pages)
def test_minimised_pages_never_hold_digits_at_guids_or_queries(page):
    out = minimise_page(page)
    assert out.startswith("/")
    assert not re.search(r"\d", out), out
    assert "@" not in out and "?" not in out and "#" not in out and "://" not in out
    assert not GUID.search(out)
    assert all(
        segment == "{id}" or re.fullmatch(r"[A-Za-z]+([-_][A-Za-z]+)*", segment)
        for segment in out.strip("/").split("/")
        if segment
    )


@FAST
@given(pages)
def test_minimising_is_idempotent(page):
    once = minimise_page(page)
    assert minimise_page(once) == once


claims = st.lists(
    st.fixed_dictionaries(
        {"typ": st.sampled_from(["oid", "tid", "roles", "name", "x"]), "val": st.text(max_size=40)}
    ),
    max_size=6,
)
headers = st.one_of(
    st.none(),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
    st.builds(
        lambda c, r: base64.b64encode(json.dumps({"claims": c, "role_typ": r}).encode()).decode(),
        claims,
        st.sampled_from(["roles", None, "x"]),
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=10,
    ).map(lambda v: base64.b64encode(json.dumps(v).encode()).decode()),
)


@FAST
@given(headers)
def test_principal_parser_accepts_or_says_401_never_crashes(header):
    try:
        principal = principal_from_header(header, SETTINGS)
    except Unauthenticated as exc:
        assert exc.status == 401
        return
    assert principal.user_id.strip() and principal.tenant_id.strip()
    assert principal.user_type in ("it_admin", "advanced_user", "basic_user")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=25,
)
event_like = st.fixed_dictionaries(
    {
        "event_id": st.one_of(st.uuids().map(str), st.text(max_size=40)),
        "name": st.sampled_from(["app.launch", "nav.page_view", "form.content", ""]),
        "session_id": st.one_of(st.uuids().map(str), st.integers()),
    },
    optional={
        "ts": st.one_of(
            st.datetimes().map(lambda d: d.isoformat() + "Z"),
            st.builds(lambda d, h: d.isoformat() + f"{h:+03d}:00", st.datetimes(), st.integers(-23, 23)),
            st.text(max_size=30),
        ),
        "app": st.text(max_size=45),
        "page": st.text(max_size=600),
        "extra": json_values,
    },
)


@FAST
@given(st.one_of(json_values, st.fixed_dictionaries({"events": st.lists(event_like, max_size=5)})))
def test_event_batches_validate_or_fail_cleanly(body):
    raw = json.dumps(body)
    try:
        batch = EventBatch.model_validate_json(raw)
    except ValidationError as exc:
        assert exc.errors(include_input=False)  # a structured, locatable error
        return
    assert 1 <= len(batch.events) <= MAX_EVENTS
    for event in batch.events:
        assert GUID.fullmatch(event.event_id) and GUID.fullmatch(event.session_id)
        assert event.ts is None or event.ts.utcoffset() is not None
        assert "extra" not in event.model_fields_set


@FAST
@given(json_values)
def test_consent_decisions_validate_or_fail_cleanly(body):
    try:
        decision = ConsentDecision.model_validate_json(json.dumps(body))
    except ValidationError:
        return
    assert decision.status in ("granted", "declined")
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", decision.policy_version)


# ---- page and app catalogues ------------------------------------------------------------------

LISTED = PAGES.templates | {UNLISTED}
CATALOGUE_WORDS = {
    segment
    for template in PAGES.templates
    for segment in template.split("/")
    if segment and "{" not in segment
}
secrets_ = st.from_regex(r"zq[a-z]{2,10}(-[a-z]{2,8}){0,3}", fullmatch=True)
"""Sent text that is no catalogue word (no literal starts with 'zq'): names, slugs, titles."""
templates = st.sampled_from(sorted(PAGES.templates))
one_segment = segments.filter(lambda value: not set(value) & set("/?#%"))
"""A value that is one path segment as sent (e-mail local parts may hold '/', '?', '#' or '%')."""


def fill(template: str, values: list[str]) -> str:
    it = iter(values)
    return "/".join(next(it, "x") if part.startswith("{") else part for part in template.split("/"))


filled = st.builds(
    lambda template, values, tail, query: fill(template, values) + "".join("/" + t for t in tail) + query,
    templates,
    st.lists(st.one_of(secrets_, segments), min_size=3, max_size=3),
    st.lists(st.one_of(secrets_, segments), max_size=2),
    st.sampled_from(["", "?q=zqsecret", "#zqfrag"]),
)
mixed = st.lists(st.one_of(secrets_, st.sampled_from(sorted(CATALOGUE_WORDS)), segments), max_size=6).map(
    lambda parts: "/" + "/".join(parts)
)


@FAST
@given(st.one_of(pages, filled, mixed))
def test_no_stored_page_ever_differs_from_a_catalogue_template(page):
    assert page_template(page) in LISTED


@FAST
@given(st.one_of(filled, mixed, pages))
def test_nothing_sent_outside_a_template_survives(page):
    out = page_template(page)
    if out == UNLISTED:
        return
    for segment in out.strip("/").split("/"):
        if segment:
            assert segment in CATALOGUE_WORDS or re.fullmatch(r"\{[a-z_]+\}", segment), (page, out)
    assert "zq" not in out  # no generated name, slug or query text, wherever it was sent


@FAST
@given(templates, st.lists(st.one_of(secrets_, one_segment), min_size=3, max_size=3))
def test_a_filled_template_is_stored_as_that_template_or_a_more_specific_one(template, values):
    out = page_template(fill(template, values))
    assert out != UNLISTED
    assert out.count("/") == template.count("/") or template == "/"
    if "{" not in template:
        assert out == template


@FAST
@given(st.text(max_size=45))
def test_no_stored_app_ever_differs_from_the_app_catalogue(app):
    assert app_id(app) in APPS.apps | {UNLISTED}


@pytest.mark.parametrize(
    "template",
    ["/users/kari.nordmann", "/cases/12345", "/Cases", "/people/kari@x.no", "cases", "/a//b", "/{ID}"],
)
def test_a_catalogue_with_id_like_literals_refuses_to_load(template):
    with pytest.raises(CatalogueError):
        PageCatalogue([template])


@pytest.mark.parametrize("app", ["ord-99887766", "Work", "o365", "a b"])
def test_an_app_catalogue_with_id_like_entries_refuses_to_load(app):
    with pytest.raises(CatalogueError):
        AppCatalogue([app])
