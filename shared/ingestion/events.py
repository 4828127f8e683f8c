"""Usage events: what a client may send, and the minimised record that is kept.

Policy: "Information submitted through forms ... is not captured by analytics. Only the fact that
an action occurred is recorded, not its content", and "We do not collect order IDs, case
descriptions, free-text input, or similar content". So an event is a registered name plus where
it happened (a catalogued app id and page route template, shared/ingestion/catalogues.py) and when; there is
no free-text field, unknown fields are rejected, and the page keeps the path only.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import unquote

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from shared.kernel.errors import BadRequest

MAX_EVENTS = 100
MAX_BATCH_BYTES = 64 * 1024
MAX_PAGE_CHARS = 512
ID = "{id}"

CATALOGUE_FILE = Path(__file__).with_name("event_catalogue.json")
CATALOGUE: dict[str, str] = json.loads(CATALOGUE_FILE.read_text())["events"]
EVENT_NAMES = frozenset(CATALOGUE)
_NAME_ENUM: list[JsonValue] = [*sorted(EVENT_NAMES)]


UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""Canonical 8-4-4-4-12 form, validated as a string and stored as sent (a re-sent event carries
the identical string), so no UUID object is built and printed back per event on the hot path."""

Uuid = Annotated[str, Field(pattern=UUID_PATTERN, json_schema_extra={"format": "uuid"})]


def _registered(name: str) -> str:
    if name not in EVENT_NAMES:
        raise PydanticCustomError("unknown_event_name", "not a registered event name (see the catalogue)")
    return name


def _aware(ts: datetime | None) -> datetime | None:
    """Require an offset and normalise to UTC, so the event's day is its UTC day."""
    if ts is None:
        return None
    offset = ts.utcoffset()
    if offset is None:
        raise PydanticCustomError("naive_timestamp", "ts must carry a UTC offset, e.g. 2026-11-23T12:00:00Z")
    try:
        return ts.astimezone(UTC) if offset else ts
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 has no UTC instant in datetime's range
        raise PydanticCustomError("event_time_out_of_window", "ts is outside the accepted window") from None


class Event(BaseModel):
    """One usage event as a client sends it."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Event")

    event_id: Uuid
    """Chosen by the client; re-sending the same event never stores it twice."""
    name: Annotated[str, AfterValidator(_registered)] = Field(json_schema_extra={"enum": _NAME_ENUM})
    session_id: Uuid
    """Tab-lifetime id from the browser's sessionStorage."""
    ts: Annotated[datetime | None, AfterValidator(_aware)] = None
    app: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    page: str | None = Field(None, max_length=MAX_PAGE_CHARS)


class EventBatch(BaseModel):
    """Body of `POST /api/events`: 1 to 100 events, stored all or nothing."""

    model_config = ConfigDict(extra="forbid", strict=True, title="EventBatch")

    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS)


class IngestResult(BaseModel):
    model_config = ConfigDict(title="IngestResult")

    accepted: int
    dropped: int


# ---- minimisation ------------------------------------------------------------------------------

_PLAIN_WORD = re.compile(r"[A-Za-z]{1,40}(?:[-_][A-Za-z]{1,40}){0,5}\Z")
_CLEAN_PATH = re.compile(r"(?:/[A-Za-z]{1,40}(?:[-_][A-Za-z]{1,40}){0,5})+/?\Z")


@lru_cache(maxsize=8192)
def minimise_page(page: str) -> str:
    """Keep the path only; every segment that is not a plain word becomes `{id}`.

    Scheme, host, query and fragment go. A plain word is letters, optionally joined by '-' or '_'
    (`service-catalog`, `my_cases`); anything else (numbers, GUIDs, hex, e-mail addresses,
    tokens, encoded text, dots) is treated as an identifier. So no digit, '@', '?' or '#'
    can ever be stored. Cached: real traffic repeats a small set of pages.
    """
    return "/" + "/".join(page_segments(page))


def page_segments(page: str) -> list[str]:
    """The non-empty segments of `minimise_page(page)`, which is `/` joined with them: the page
    catalogue matches on these, so a page is split once, not minimised, joined and split again."""
    path = page.partition("?")[0].partition("#")[0]
    scheme = path.find("://")
    if scheme != -1:
        path = path[scheme + 3 :]
        path = path[path.find("/") :] if "/" in path else ""
    elif path.startswith("//"):
        slash = path.find("/", 2)
        path = path[slash:] if slash != -1 else ""
    if "%" in path:
        path = unquote(path)
    if _CLEAN_PATH.match(path):
        return [segment for segment in path.split("/") if segment]
    # A plain word: ASCII letters only (decided without the regex: the common case), else the regex.
    return [
        segment
        if (segment.isascii() and segment.isalpha() and len(segment) <= 40) or _PLAIN_WORD.match(segment)
        else ID
        for segment in path.split("/")
        if segment
    ]


def check_batch(batch: EventBatch, received: datetime, max_age: timedelta, max_ahead: timedelta) -> None:
    """Rules that need the whole batch or the server's clock; any failure rejects the batch whole.

    An event id may appear once per batch (a transaction cannot hold one entity twice), and client
    times far from the server's are refused (stale replays, skewed clocks).
    """
    events = batch.events
    if len({event.event_id for event in events}) != len(events):
        seen: set[str] = set()
        for index, event in enumerate(events):
            if event.event_id in seen:
                raise BadRequest(
                    f"events[{index}].event_id appears twice in the batch",
                    code="duplicate_event_id",
                    field=f"events[{index}].event_id",
                )
            seen.add(event.event_id)
    earliest, latest = received - max_age, received + max_ahead
    for index, event in enumerate(events):
        if event.ts is not None and not (earliest <= event.ts <= latest):
            raise BadRequest(
                f"events[{index}].ts is outside the accepted window "
                f"({int(max_age.total_seconds() // 3600)} h back, {int(max_ahead.total_seconds())} s ahead)",
                code="event_time_out_of_window",
                field=f"events[{index}].ts",
            )
