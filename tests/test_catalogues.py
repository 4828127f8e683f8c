"""The page catalogue's indexed lookup picks exactly the template a scan of every template picks."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ingestion.catalogues import (
    PAGE_CATALOGUE_FILE,
    PAGES,
    UNLISTED,
    PageCatalogue,
    Template,
    parse_template,
)
from shared.ingestion.events import minimise_page

WORDS = ["cases", "new", "edit", "docs", "people", "profile", "admin", "my_orders", "service-catalog"]
PARAMS = ["{id}", "{slug}", "{name}"]

segment = st.sampled_from(WORDS + PARAMS)
template_text = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
catalogue = st.lists(template_text, min_size=1, max_size=25, unique=True)
"""Random catalogues over a few words: many templates of one length share words, masks and
precedence, so ties (decided by the catalogue's order) happen often."""

sent_segment = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(str.upper),
    st.sampled_from(WORDS).map(str.title),
    st.sampled_from(["42", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "kari@x.no", "zqother", "{id}", ""]),
)
page = st.builds(
    lambda parts, query: "/" + "/".join(parts) + query,
    st.lists(sent_segment, max_size=6),
    st.sampled_from(["", "/", "?q=1", "#x"]),
)


def scanned(templates: list[str], sent: str) -> str:
    """The lookup as it was: every template of a length in precedence order, word by word."""
    parsed = [parse_template(text) for text in templates]
    by_length: dict[int, list[Template]] = {}
    for template in parsed:
        if template.segments:
            by_length.setdefault(len(template.segments), []).append(template)
    for group in by_length.values():
        group.sort(key=lambda t: (-t.literals, t.segments.index(None) if None in t.segments else 99))
    parts = tuple(part for part in minimise_page(sent).split("/") if part)
    if not parts:
        return "/" if "/" in templates else UNLISTED
    for length in range(min(len(parts), max(by_length, default=0)), 0, -1):
        for template in by_length.get(length, ()):
            if template.matches(parts):
                return template.text
    return UNLISTED


@settings(max_examples=600, deadline=None)
@given(catalogue, st.lists(page, min_size=1, max_size=8))
def test_indexed_lookup_equals_the_scan_of_every_template(templates, sent_pages):
    pages = PageCatalogue(templates)
    for sent in sent_pages:
        assert pages.match(sent) == scanned(templates, sent), (templates, sent)


PRODUCT = list(json.loads(PAGE_CATALOGUE_FILE.read_text())["pages"])


@settings(max_examples=600, deadline=None)
@given(page)
def test_the_product_catalogue_equals_the_scan(sent):
    assert PAGES.match(sent) == scanned(PRODUCT, sent)


def test_known_pages():
    cases = {
        "/cases/123/edit?tab=history": "/cases/{id}/edit",
        "/Cases/New": "/cases/new",
        "/cases/new/extra": "/cases/new",
        "/cases/42": "/cases/{id}",
        "/people/kari-nordmann/profile": "/people/{id}/profile",
        "/catalog/order/998877": "/catalog/order/{id}",
        "/catalog/order": "/catalog",
        "/": "/",
        "": "/",
        "/nowhere/at/all": UNLISTED,
        "/docs/how-to-reset-password": "/docs/{slug}",
    }
    for sent, wanted in cases.items():
        assert PAGES.match(sent) == wanted, sent


def test_ties_across_masks_go_to_the_catalogues_order():
    """Same length, as many literal words, the first parameter at the same place, but the literal
    words elsewhere: both match, and the one listed first wins, as the scan decided."""
    first, second = "/cases/{id}/{name}/new", "/cases/{id}/edit/{slug}"
    for order in ([first, second], [second, first], ["/cases/{id}/{name}/edit", second, first]):
        assert PageCatalogue(order).match("/cases/7/edit/new") == scanned(order, "/cases/7/edit/new")
    assert PageCatalogue([first, second]).match("/cases/7/edit/new") == first
    assert PageCatalogue([second, first]).match("/cases/7/edit/new") == second
