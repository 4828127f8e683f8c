"""The reviewed allow-lists for where an event happened: page route templates and app ids.

Policy: "Only the fact that an action occurred is recorded, not its content", and "We do not
collect order IDs, case descriptions, free-text input, or similar content". A heuristic that
replaces digits and GUIDs still lets slugs through (`/people/kari-nordmann/profile`,
`/docs/how-to-reset-password-for-kari`), so the stored page is chosen from a catalogue instead:
the longest route template the path matches, with its parameters as `{name}`, else `(unlisted)`.
An app id outside the app catalogue is `(unlisted)` too. Nothing the client sent outside a
template's literal words can ever be stored. The id heuristics stay as a second guard: the sent
path is minimised first (ids become `{id}`), so a template's literal word never matches an id,
and a catalogue whose literal words look like ids refuses to load.

Ops see how many unlisted pages and apps arrived per day (counts only, never the sent text) to
extend the catalogues: `POST /api/ops/catalogue/unlisted`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.ingestion.events import page_segments
from shared.storage.events import EventStore

UNLISTED = "(unlisted)"
PAGE_CATALOGUE_FILE = Path(__file__).with_name("page_catalogue.json")
APP_CATALOGUE_FILE = Path(__file__).with_name("app_catalogue.json")
MAX_UNLISTED_RANGE_DAYS = 400

_PARAMETER = re.compile(r"\{[a-z][a-z_]{0,30}\}\Z")
_LITERAL = re.compile(r"[a-z]{1,40}(?:[-_][a-z]{1,40}){0,5}\Z")
"""Lower-case plain words only: the same rule the id heuristic keeps, so no digit, '@' or '.'."""
_APP = re.compile(r"[a-z]{1,20}(?:[-_][a-z]{1,20}){0,3}\Z")


class CatalogueError(ValueError):
    """A catalogue file breaks the rules that keep identifiers out of templates."""


@dataclass(frozen=True)
class Template:
    text: str
    segments: tuple[str | None, ...]
    """Literal words, or None where a parameter stands."""

    @property
    def literals(self) -> int:
        return sum(segment is not None for segment in self.segments)

    def matches(self, parts: tuple[str, ...]) -> bool:
        """True if the template matches the first len(self.segments) parts of a path."""
        return all(
            want is None or want == got.lower() for want, got in zip(self.segments, parts, strict=False)
        )


def parse_template(text: str) -> Template:
    if not text.startswith("/") or (len(text) > 1 and text.endswith("/")) or "//" in text:
        raise CatalogueError(f"{text!r}: a template is a path like /cases/{{id}}")
    segments: list[str | None] = []
    for segment in text.split("/")[1:] if text != "/" else []:
        if _PARAMETER.match(segment):
            segments.append(None)
        elif _LITERAL.match(segment):
            segments.append(segment)
        else:
            raise CatalogueError(
                f"{text!r}: {segment!r} is neither a {{parameter}} nor a plain lower-case word "
                "(a literal that looks like an id or a name would be stored as sent)"
            )
    return Template(text, tuple(segments))


Picker = Callable[[Sequence[str]], object]
"""The literal words a template compares, taken from a path's words (or the template's own)."""


def _picker(positions: tuple[int, ...]) -> Picker:
    if not positions:
        return lambda _words: ()
    return itemgetter(*positions)


class PageCatalogue:
    """Longest-match lookup of a sent page among the reviewed templates.

    The templates of one length are grouped by where their literal words stand (their mask), and
    each group is a dict from those words to the template: a lookup is a handful of dict probes
    per length instead of a word-by-word comparison with every template (each event's page is
    matched, and pages that differ by an id miss any cache)."""

    def __init__(self, templates: Iterable[str]) -> None:
        parsed = [parse_template(text) for text in templates]
        self.templates = frozenset(t.text for t in parsed)
        if len(self.templates) != len(parsed):
            raise CatalogueError("a template is listed twice")
        self._root = "/" in self.templates
        by_length: dict[int, list[Template]] = {}
        for template in parsed:
            if template.segments:
                by_length.setdefault(len(template.segments), []).append(template)
        self._tiers: dict[int, list[list[tuple[Picker, dict[object, tuple[int, str]]]]]] = {}
        for length, group in by_length.items():
            # Most literal words first (/cases/new before /cases/{id}), then the earliest parameter;
            # a stable sort, so the catalogue's order settles any remaining tie (the rank).
            group.sort(key=_precedence)
            tiers: dict[tuple[int, int], dict[tuple[int, ...], tuple[Picker, dict[object, tuple[int, str]]]]]
            tiers = {}
            for rank, template in enumerate(group):
                positions = tuple(i for i, word in enumerate(template.segments) if word is not None)
                masks = tiers.setdefault(_precedence(template), {})
                if positions not in masks:
                    masks[positions] = (_picker(positions), {})
                pick, table = masks[positions]
                table.setdefault(pick(template.segments), (rank, template.text))  # type: ignore[arg-type]
            self._tiers[length] = [list(masks.values()) for masks in tiers.values()]  # in precedence order
        self._longest = max(self._tiers, default=0)
        self.match = lru_cache(maxsize=8192)(self._match)

    def _match(self, page: str) -> str:
        """The template for a sent page, or `(unlisted)`.

        The longest template (most segments) that matches the path's leading segments wins; among
        equally long ones, the one with more literal words (then the earlier parameter, then the
        catalogue's order). Literal words compare with the path's words lower-cased. `/` matches
        only the start page. The page is minimised first (`page_segments`: the words of
        `minimise_page(page)`), so a literal word never matches an id."""
        parts = page_segments(page)
        if not parts:
            return "/" if self._root else UNLISTED
        words = [part.lower() for part in parts[: self._longest]]
        for length in range(min(len(parts), self._longest), 0, -1):
            for tier in self._tiers.get(length, ()):
                best: tuple[int, str] | None = None
                for pick, table in tier:
                    hit = table.get(pick(words))
                    if hit is not None and (best is None or hit < best):
                        best = hit
                if best is not None:
                    return best[1]
        return UNLISTED


def _precedence(template: Template) -> tuple[int, int]:
    segments = template.segments
    return (-template.literals, segments.index(None) if None in segments else 99)


class AppCatalogue:
    def __init__(self, apps: Iterable[str]) -> None:
        listed = list(apps)
        for app in listed:
            if not _APP.match(app):
                raise CatalogueError(f"{app!r}: an app id is a plain lower-case word (letters, - or _)")
        self.apps = frozenset(listed)

    def match(self, app: str) -> str:
        return app if app in self.apps else UNLISTED


def _load(path: Path, key: str) -> Mapping[str, str]:
    entries = json.loads(path.read_text())[key]
    if not isinstance(entries, dict) or not entries:
        raise CatalogueError(f"{path.name}: '{key}' must be a non-empty object of id → description")
    return entries


PAGES = PageCatalogue(_load(PAGE_CATALOGUE_FILE, "pages"))
APPS = AppCatalogue(_load(APP_CATALOGUE_FILE, "apps"))


def page_template(page: str) -> str:
    """What is stored for a sent page: a catalogue template or `(unlisted)`, nothing else."""
    return PAGES.match(page)


def app_id(app: str) -> str:
    """What is stored for a sent app id: a catalogue id or `(unlisted)`."""
    return APPS.match(app)


# ---- ops: how much arrives outside the catalogues -------------------------------------------


class UnlistedRequest(BaseModel):
    """Body of `POST /api/ops/catalogue/unlisted`: an inclusive range of UTC days."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, title="UnlistedRequest")

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _range(self) -> UnlistedRequest:
        if self.from_ > self.to:
            raise ValueError("'from' is after 'to'")
        if (self.to - self.from_).days >= MAX_UNLISTED_RANGE_DAYS:
            raise ValueError(f"at most {MAX_UNLISTED_RANGE_DAYS} days per request")
        return self


class UnlistedDay(BaseModel):
    model_config = ConfigDict(title="UnlistedDay")

    day: date
    events: int
    """Raw events of the day (anonymous and pseudonymous alike)."""
    unlisted_pages: int
    unlisted_apps: int


class UnlistedResult(BaseModel):
    """Counts only: the text a client sent outside the catalogues was never stored."""

    model_config = ConfigDict(title="UnlistedResult")

    days: list[UnlistedDay]


class UnlistedCounts:
    def __init__(self, events: EventStore) -> None:
        self._events = events

    def run(self, first: date, last: date) -> UnlistedResult:
        """Per day that still has raw events in the range: how many pages/apps were unlisted."""
        days = []
        for day in self._events.days():
            if not first <= day <= last:
                continue
            events = pages = apps = 0
            for app, page in self._events.places(day):
                events += 1
                pages += page == UNLISTED
                apps += app == UNLISTED
            days.append(UnlistedDay(day=day, events=events, unlisted_pages=pages, unlisted_apps=apps))
        return UnlistedResult(days=days)
