"""What authors do: write notifications and surveys, list and read them, publish and archive them
(`/api/authoring/items`, author or operator role, every call audited by the route).

An item is a draft until published; once published, a survey's kind and question are fixed (its
answers refer to them), and archived is final. Text is stored and returned as text: clients never
render it as HTML. A change to a published item reaches the users of this instance at once (the
live-items cache of `delivery` is dropped) and of other instances within `CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.kernel.errors import BadRequest, NotFound
from shared.kernel.logs import log
from shared.notifications.models import (
    Audience,
    ItemFields,
    ItemList,
    ItemPatch,
    ItemView,
    Question,
    Translation,
    is_item_id,
    new_item_id,
)
from shared.storage.notifications import ItemRecord, NotificationStore

LOG = logging.getLogger("cetegra.notifications")


class Authoring:
    """The author routes' domain; `changed` is called after an item changed (the delivery's
    `invalidate`)."""

    def __init__(
        self, store: NotificationStore, clock: Callable[[], datetime], *, changed: Callable[[], None]
    ) -> None:
        self._store = store
        self._clock = clock
        self._changed = changed

    def create(self, fields: ItemFields) -> ItemView:
        now = self._clock()
        item = ItemRecord(
            item_id=new_item_id(),
            status="draft",
            created_at=now,
            updated_at=now,
            published_at=None,
            archived_at=None,
            **_field_values(fields.model_dump()),
        )
        self._store.save_item(item)
        log(LOG, logging.INFO, "notifications.item_created", kind=item.kind)
        return _view(item)

    def duplicate(self, item_id: str) -> ItemView:
        """A new draft with the item's fields (any status may be copied, archived ones too): the
        way to run an announcement or a survey again, since a published survey's question is
        fixed and archived is final."""
        source = self.existing(item_id)
        now = self._clock()
        item = replace(
            source,
            item_id=new_item_id(),
            status="draft",
            created_at=now,
            updated_at=now,
            published_at=None,
            archived_at=None,
            state_removed_at=None,
            reach=None,
        )
        self._store.save_item(item)
        log(LOG, logging.INFO, "notifications.item_duplicated", kind=item.kind)
        return _view(item)

    def items(self) -> ItemList:
        records = sorted(self._store.items(), key=lambda i: (i.created_at, i.item_id), reverse=True)
        return ItemList(items=[_view(i) for i in records])

    def item(self, item_id: str) -> ItemView:
        return _view(self.existing(item_id))

    def update(self, item_id: str, patch: ItemPatch) -> ItemView:
        """Apply a patch. Once published, a survey's kind and question are fixed (answers refer to
        them); archived is final."""
        item = self.existing(item_id)
        changes = patch.model_dump(exclude_unset=True)
        status = changes.pop("status", None)
        if item.status == "archived" and (changes or status not in (None, "archived")):
            raise BadRequest("an archived item cannot change", code="item_archived", field="status")
        if item.published_at is not None:
            for locked in ("kind", "question"):
                if locked in changes and changes[locked] != (
                    item.kind if locked == "kind" else item.question
                ):
                    raise BadRequest(
                        f"{locked} cannot change once the item was published",
                        code="item_locked",
                        field=locked,
                    )
        merged = {**_record_fields(item), **changes}
        try:
            fields = ItemFields.model_validate(merged)
        except ValidationError as exc:
            message, where = _first_error(exc)
            raise BadRequest(message, code="invalid_value", field=where) from None
        now = self._clock()
        # A changed window may show the item again: retention looks at its state anew.
        updated = replace(item, updated_at=now, state_removed_at=None, **_field_values(fields.model_dump()))
        if status is not None and status != item.status:
            updated = replace(
                updated,
                status=status,
                published_at=(item.published_at or now) if status == "published" else item.published_at,
                archived_at=now if status == "archived" else None,
            )
        self._store.save_item(updated)
        self._changed()
        log(LOG, logging.INFO, "notifications.item_updated", status=updated.status, kind=updated.kind)
        return _view(updated)

    def existing(self, item_id: str) -> ItemRecord:
        """The item, or 404 (also for anything that is not an item id)."""
        item = self._store.item(item_id) if is_item_id(item_id) else None
        if item is None:
            raise NotFound("no such item", code="item_not_found")
        return item


def _view(item: ItemRecord) -> ItemView:
    return ItemView(
        id=item.item_id,
        status=item.status,  # type: ignore[arg-type]
        kind=item.kind,  # type: ignore[arg-type]
        title=item.title,
        body=item.body,
        link=item.link,
        priority=item.priority,  # type: ignore[arg-type]
        question=None if item.question is None else Question.model_validate(item.question),
        audience=Audience.model_validate(item.audience),
        series=item.series,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        language=item.language,
        translations={code: Translation.model_validate(t) for code, t in item.translations.items()},
        created_at=item.created_at,
        updated_at=item.updated_at,
        published_at=item.published_at,
        archived_at=item.archived_at,
    )


FIELD_NAMES = (
    "kind",
    "title",
    "body",
    "link",
    "priority",
    "question",
    "audience",
    "series",
    "starts_at",
    "ends_at",
    "language",
    "translations",
)


def _field_values(dumped: dict[str, Any]) -> dict[str, Any]:
    values = {name: dumped[name] for name in FIELD_NAMES}
    values["translations"] = {
        code: {key: value for key, value in text.items() if value is not None}
        for code, text in values["translations"].items()
    }
    return values


def _record_fields(item: ItemRecord) -> dict[str, Any]:
    return {name: getattr(item, name) for name in FIELD_NAMES}


def _first_error(exc: ValidationError) -> tuple[str, str | None]:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or None
    message = str(first["msg"]).removeprefix("Value error, ")
    return (f"{where}: {message}" if where else message), where
