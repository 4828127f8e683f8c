"""Launch markers: dated notes ("Case templates launched") that operators and authors record, so
that every time chart of the report page can show what happened when, and the launch view can
start from the latest launch rather than from a guessed date.

A marker holds a day, optionally the feature and app it is about, and a short text; it never
holds who wrote it (the call's audit record does: shared/privacy/audit.py) and the text is a
product note, not a place for personal data (the page says so beside the field, and the text is
limited to one short printable line).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.errors import NotFound
from shared.kernel.logs import log
from shared.reporting.queries import APP_FILTER
from shared.storage.markers import Marker, MarkerStore

LOG = logging.getLogger("cetegra.markers")
MARKER_ID = r"^m[0-9]{8}[0-9a-f]{8}$"
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class MarkerFields(BaseModel):
    """Body of `POST /api/reports/markers`."""

    model_config = ConfigDict(extra="forbid", strict=True, title="MarkerFields", populate_by_name=True)

    day: date = Field(alias="date", description="The day of the launch (YYYY-MM-DD)")
    text: str = Field(min_length=1, max_length=200, pattern=PRINTABLE, description="A short product note")
    feature: str | None = Field(None, min_length=1, max_length=512, pattern=PRINTABLE)
    """As the features report names it (an event name or a page template)."""
    app: str | None = Field(None, pattern=APP_FILTER)


class MarkerView(BaseModel):
    model_config = ConfigDict(title="MarkerView")

    id: str
    date: date
    feature: str | None
    app: str | None
    text: str
    created_at: datetime


class MarkerList(BaseModel):
    model_config = ConfigDict(title="MarkerList")

    markers: list[MarkerView]
    """Oldest first."""
    latest: MarkerView | None
    """The marker with the latest day (the launch view's default)."""


def _view(marker: Marker) -> MarkerView:
    return MarkerView(
        id=marker.marker_id,
        date=marker.day,
        feature=marker.feature,
        app=marker.app,
        text=marker.text,
        created_at=marker.created_at,
    )


class MarkerDeletion(BaseModel):
    """Body of `DELETE /api/markers/{id}`: `{}` (a state change always sends a JSON body)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="MarkerDeletion")


class Markers:
    def __init__(self, store: MarkerStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def list(self) -> MarkerList:
        views = sorted((_view(m) for m in self._store.all()), key=lambda v: (v.date, v.created_at, v.id))
        return MarkerList(markers=views, latest=views[-1] if views else None)

    def add(self, fields: MarkerFields) -> MarkerView:
        day = fields.day
        marker = Marker(
            marker_id=f"m{day:%Y%m%d}{secrets.token_hex(4)}",
            day=day,
            feature=fields.feature,
            app=fields.app,
            text=fields.text,
            created_at=self._clock(),
        )
        self._store.add(marker)
        log(LOG, logging.INFO, "markers.added")
        return _view(marker)

    def delete(self, marker_id: str) -> MarkerView:
        marker = self._store.get(marker_id) if _valid_id(marker_id) else None
        if marker is None:
            raise NotFound("no such marker", code="not_found")
        self._store.delete(marker_id)
        log(LOG, logging.INFO, "markers.deleted")
        return _view(marker)


def _valid_id(marker_id: str) -> bool:
    return re.fullmatch(MARKER_ID, marker_id) is not None
