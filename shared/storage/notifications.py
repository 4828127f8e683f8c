"""Table access for notifications and surveys: the only code that knows their tables and keys.

Layout (docs/notifications.md has the reasoning):

* `notifyitems` — the items authors write. One partition (`item`): authors create a few a week,
  so listing them all, or the live ones, is one range read of one partition.
* `notifystate` — seen/dismissed/answered state. Partition = the user's notification key (a
  purpose-separated pseudonym, never the user id), row = item id. `GET /api/notifications` reads
  exactly one partition. Row `m` marks that older salt versions were already looked at after a
  rotation, so that check is made once per user, not on every request. Row `c` holds the user's
  survey cadence (first seen, last prompt, answer, dismissal): read with the state, in the same
  partition read, and written in the same transaction as the state row that moves it.
* `notifyanswers` — survey answers. Partition = item id, row = notification key: results read
  one partition, and answering again upserts the same row, so one user never has two answers.
  Row `snapshot` of the same partition holds the survey's released results (noisy counts, no
  key, no comment, no single answer): the results route reads answers and snapshot in one read.
* `notifyitems`, partition `reach` — each item's released reach, one row per item and closed UTC
  day (row `<item id>.<YYYY-MM-DD>`): the noisy count of each measure, written once (insert, never
  replaced) and read back by every later query, so a day is never drawn again.

Storage trouble surfaces as StorageUnavailable (503) from `shared.storage.Storage`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.storage.core import Entity, Storage
from shared.storage.tenants import TenantEntry, TenantStore

ITEMS = "notifyitems"
STATE = "notifystate"
ANSWERS = "notifyanswers"
TABLES = (ITEMS, STATE, ANSWERS)
ITEM_PARTITION = "item"
MARKER_ROW = "m"
CADENCE_ROW = "c"
"""Not an item id (those are 32 hex digits), so never a state row of an item."""
_NOT_ITEMS = (MARKER_ROW, CADENCE_ROW)
REACH_PARTITION = "reach"
"""Released reach rows, beside the items (not an item's partition, so item listings skip them)."""
SNAPSHOT_ROW = "snapshot"
"""Not a notification key (those are `n` + 32 hex), so never an answer's row."""


@dataclass(frozen=True)
class ItemRecord:
    """An item as stored. `question` and `audience` are JSON-shaped dicts (validated upstream)."""

    item_id: str
    kind: str
    status: str
    title: str
    body: str
    link: str | None
    priority: str
    question: dict[str, Any] | None
    audience: dict[str, list[str]]
    series: str | None
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None
    state_removed_at: datetime | None = None
    """When retention deleted the item's seen/dismissed state (so it is not looked for again)."""
    language: str = "en"
    translations: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Language code → the Translation fields given (JSON-shaped, validated upstream)."""
    reach: str | None = None
    """The item's released reach (JSON written by the domain) kept when retention removed its
    state, so authors still see how far it got."""


@dataclass(frozen=True)
class StateRecord:
    """One user's state for one item; the tenant and user type are kept for the audience only."""

    key: str
    item_id: str
    tenant: str
    user_type: str
    salt_version: str
    updated_at: datetime
    seen_at: datetime | None = None
    dismissed_at: datetime | None = None
    answered_at: datetime | None = None
    delivered_at: datetime | None = None
    """When `GET /api/notifications` first handed the item to the user (reach: delivered)."""
    opened_at: datetime | None = None
    """When the user first opened the item's link (the client reports it)."""


STATE_TIMES = ("seen_at", "dismissed_at", "answered_at", "delivered_at", "opened_at")


@dataclass(frozen=True)
class CadenceRecord:
    """One user's survey cadence: when the centre first asked for their items, and their last
    survey prompt, answer and dismissal (shared/notifications/cadence.py)."""

    key: str
    salt_version: str
    updated_at: datetime
    first_seen_at: datetime
    last_prompt_at: datetime | None = None
    last_answer_at: datetime | None = None
    last_dismiss_at: datetime | None = None
    delivered: dict[str, str] = field(default_factory=dict)
    """Item id → the UTC day (ISO) `GET /api/notifications` first handed it to the user (reach:
    delivered). Kept in this one row, not a row per item, so a first delivery costs one small
    write and the feed's partition read stays as small as the user's actual actions."""


CADENCE_TIMES = ("last_prompt_at", "last_answer_at", "last_dismiss_at")


@dataclass(frozen=True)
class ReachRow:
    """The times of one user's state row for one item, and the user's notification key (only to
    bound one person's contribution before the release; never stored or returned)."""

    item_id: str
    times: dict[str, datetime]
    person: str = ""


@dataclass(frozen=True)
class ReleasedReach:
    """One item's released reach of one closed UTC day: each measure's noisy count of people
    (unclipped; the domain decides what is shown) and the noise's sigma (0 in exact mode)."""

    item_id: str
    day: str
    values: dict[str, int]
    sigma: float
    released_at: datetime


@dataclass(frozen=True)
class AnswerRecord:
    """One user's (latest) answer to one survey."""

    item_id: str
    key: str
    tenant: str
    user_type: str
    salt_version: str
    value: int | str
    comment: str | None
    answered_at: datetime


@dataclass(frozen=True)
class SnapshotRecord:
    """A survey's published results as of `taken_at` (JSON written and read by the domain)."""

    item_id: str
    taken_at: datetime
    data: str


def _item_entity(item: ItemRecord) -> Entity:
    entity: Entity = {
        "PartitionKey": ITEM_PARTITION,
        "RowKey": item.item_id,
        "kind": item.kind,
        "status": item.status,
        "title": item.title,
        "body": item.body,
        "priority": item.priority,
        "audience": json.dumps(item.audience, sort_keys=True),
        "starts_at": item.starts_at,
        "ends_at": item.ends_at,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "language": item.language,
    }
    optional: dict[str, Any] = {
        "link": item.link,
        "question": None if item.question is None else json.dumps(item.question, sort_keys=True),
        "series": item.series,
        "published_at": item.published_at,
        "archived_at": item.archived_at,
        "state_removed_at": item.state_removed_at,
        "translations": json.dumps(item.translations, sort_keys=True) if item.translations else None,
        "reach": item.reach,
    }
    entity.update({k: v for k, v in optional.items() if v is not None})
    return entity


def _item(entity: Entity) -> ItemRecord:
    question = entity.get("question")
    return ItemRecord(
        item_id=entity["RowKey"],
        kind=entity["kind"],
        status=entity["status"],
        title=entity["title"],
        body=entity["body"],
        link=entity.get("link"),
        priority=entity["priority"],
        question=None if question is None else json.loads(question),
        audience=json.loads(entity["audience"]),
        series=entity.get("series"),
        starts_at=entity["starts_at"],
        ends_at=entity["ends_at"],
        created_at=entity["created_at"],
        updated_at=entity["updated_at"],
        published_at=entity.get("published_at"),
        archived_at=entity.get("archived_at"),
        state_removed_at=entity.get("state_removed_at"),
        language=entity.get("language") or "en",
        translations=json.loads(entity["translations"]) if entity.get("translations") else {},
        reach=entity.get("reach"),
    )


def _state_entity(state: StateRecord) -> Entity:
    entity: Entity = {
        "PartitionKey": state.key,
        "RowKey": state.item_id,
        "tenant": state.tenant,
        "user_type": state.user_type,
        "salt_version": state.salt_version,
        "updated_at": state.updated_at,
    }
    for name in STATE_TIMES:
        value = getattr(state, name)
        if value is not None:
            entity[name] = value
    return entity


def _state(entity: Entity) -> StateRecord:
    return StateRecord(
        key=entity["PartitionKey"],
        item_id=entity["RowKey"],
        tenant=entity["tenant"],
        user_type=entity["user_type"],
        salt_version=entity["salt_version"],
        updated_at=entity["updated_at"],
        seen_at=entity.get("seen_at"),
        dismissed_at=entity.get("dismissed_at"),
        answered_at=entity.get("answered_at"),
        delivered_at=entity.get("delivered_at"),
        opened_at=entity.get("opened_at"),
    )


def _cadence_entity(cadence: CadenceRecord) -> Entity:
    entity: Entity = {
        "PartitionKey": cadence.key,
        "RowKey": CADENCE_ROW,
        "salt_version": cadence.salt_version,
        "updated_at": cadence.updated_at,
        "first_seen_at": cadence.first_seen_at,
    }
    for name in CADENCE_TIMES:
        value = getattr(cadence, name)
        if value is not None:
            entity[name] = value
    if cadence.delivered:
        entity["delivered"] = json.dumps(cadence.delivered, sort_keys=True, separators=(",", ":"))
    return entity


def _cadence(entity: Entity) -> CadenceRecord:
    return CadenceRecord(
        key=entity["PartitionKey"],
        salt_version=entity["salt_version"],
        updated_at=entity["updated_at"],
        first_seen_at=entity["first_seen_at"],
        last_prompt_at=entity.get("last_prompt_at"),
        last_answer_at=entity.get("last_answer_at"),
        last_dismiss_at=entity.get("last_dismiss_at"),
        delivered=json.loads(entity["delivered"]) if entity.get("delivered") else {},
    )


def _answer_entity(answer: AnswerRecord) -> Entity:
    entity: Entity = {
        "PartitionKey": answer.item_id,
        "RowKey": answer.key,
        "tenant": answer.tenant,
        "user_type": answer.user_type,
        "salt_version": answer.salt_version,
        "value": json.dumps(answer.value),
        "answered_at": answer.answered_at,
    }
    if answer.comment is not None:
        entity["comment"] = answer.comment
    return entity


def _answer(entity: Entity) -> AnswerRecord:
    return AnswerRecord(
        item_id=entity["PartitionKey"],
        key=entity["RowKey"],
        tenant=entity["tenant"],
        user_type=entity["user_type"],
        salt_version=entity["salt_version"],
        value=json.loads(entity["value"]),
        comment=entity.get("comment"),
        answered_at=entity["answered_at"],
    )


class NotificationStore:
    """Typed reads and writes of the three tables over the generic `Storage` methods."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._items = storage.table(ITEMS)
        self._state = storage.table(STATE)
        self._answers = storage.table(ANSWERS)
        self._tenants = TenantStore(storage)

    # ---- items ------------------------------------------------------------------------------

    def save_item(self, item: ItemRecord) -> None:
        self._storage.write_partition(self._items, [_item_entity(item)], upsert=True)

    def item(self, item_id: str) -> ItemRecord | None:
        entity = self._storage.get(self._items, ITEM_PARTITION, item_id)
        return None if entity is None else _item(entity)

    def items(self) -> list[ItemRecord]:
        return [_item(e) for e in self._storage.partition(self._items, ITEM_PARTITION)]

    def live_items(self, now: datetime) -> list[ItemRecord]:
        """Published items whose window has not ended: one query of the items partition."""
        rows = self._storage.query(
            self._items,
            "PartitionKey eq @pk and status eq @status and ends_at gt @now",
            {"pk": ITEM_PARTITION, "status": "published", "now": now},
        )
        return [_item(e) for e in rows]

    # ---- seen / dismissed / answered state ---------------------------------------------------

    def state(self, key: str) -> list[StateRecord]:
        """Every state row of one user (one partition read); the marker and cadence rows are left out."""
        return [_state(e) for e in self._storage.partition(self._state, key) if e["RowKey"] not in _NOT_ITEMS]

    def state_and_marker(self, key: str) -> tuple[list[StateRecord], bool]:
        """One user's state rows and whether the rotation marker is there: one partition read."""
        rows, checked, _ = self.user_state(key)
        return rows, checked

    def user_state(self, key: str) -> tuple[list[StateRecord], bool, CadenceRecord | None]:
        """One user's state rows, whether the rotation marker is there, and their cadence row:
        one partition read."""
        entities = self._storage.partition(self._state, key)
        rows = [_state(e) for e in entities if e["RowKey"] not in _NOT_ITEMS]
        checked = any(e["RowKey"] == MARKER_ROW for e in entities)
        cadence = next((_cadence(e) for e in entities if e["RowKey"] == CADENCE_ROW), None)
        return rows, checked, cadence

    def cadence(self, key: str) -> CadenceRecord | None:
        entity = self._storage.get(self._state, key, CADENCE_ROW)
        return None if entity is None else _cadence(entity)

    def save_user_state(self, rows: list[StateRecord], cadence: CadenceRecord | None) -> None:
        """State rows and the cadence row of one user: one entity-group transaction (per 100)."""
        entities = [_state_entity(r) for r in rows]
        if cadence is not None:
            entities.append(_cadence_entity(cadence))
        if entities:
            self._storage.write_partition(self._state, entities, upsert=True)

    def reach_rows(self, item_id: str | None = None) -> list[ReachRow]:
        """Per user and item, the times of what happened (never who): the item's state rows, with
        the delivery day from the user's cadence row merged in. Of one item: two filtered queries
        (its state rows, the cadence rows); of every item: one projected scan (the authoring list)."""
        columns = ["PartitionKey", "RowKey", "delivered", *STATE_TIMES]
        if item_id is None:
            rows: list[Entity] = list(self._storage.scan(self._state, select=columns))
        else:
            rows = [
                *self._storage.query(self._state, "RowKey eq @item", {"item": item_id}, select=columns),
                *self._storage.query(self._state, "RowKey eq @c", {"c": CADENCE_ROW}, select=columns),
            ]
        merged: dict[tuple[str, str], dict[str, datetime]] = {}
        for r in rows:
            if r["RowKey"] == CADENCE_ROW:
                for item, day in json.loads(r.get("delivered") or "{}").items():
                    if item_id is None or item == item_id:
                        times = merged.setdefault((r["PartitionKey"], item), {})
                        times.setdefault("delivered_at", datetime.fromisoformat(day).replace(tzinfo=UTC))
            elif r["RowKey"] != MARKER_ROW:
                times = merged.setdefault((r["PartitionKey"], r["RowKey"]), {})
                times.update({name: r[name] for name in STATE_TIMES if r.get(name) is not None})
        return [ReachRow(item, times, person) for (person, item), times in merged.items()]

    # ---- released reach ---------------------------------------------------------------------------

    def released_reach(self, item_id: str | None = None) -> list[ReleasedReach]:
        """The stored reach releases of one item (a row range of the `reach` partition) or of every
        item (the partition)."""
        if item_id is None:
            rows = self._storage.partition(self._items, REACH_PARTITION)
        else:
            rows = self._storage.query(
                self._items,
                "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                {"pk": REACH_PARTITION, "low": f"{item_id}.", "high": f"{item_id}/"},
            )
        return [
            ReleasedReach(
                item_id=r["item"],
                day=r["day"],
                values={k: int(v) for k, v in json.loads(r["values"]).items()},
                sigma=float(r["sigma"]),
                released_at=r["released_at"],
            )
            for r in rows
        ]

    def save_released_reach(self, rows: list[ReleasedReach]) -> None:
        """Insert released days (never replace one): a day already stored fails the write, so
        two instances releasing at once cannot both publish; the caller reads back."""
        entities: list[Entity] = [
            {
                "PartitionKey": REACH_PARTITION,
                "RowKey": f"{r.item_id}.{r.day}",
                "item": r.item_id,
                "day": r.day,
                "values": json.dumps(r.values, sort_keys=True),
                "sigma": float(r.sigma),
                "released_at": r.released_at,
            }
            for r in rows
        ]
        if entities:
            self._storage.write_partition(self._items, entities, upsert=False)

    # ---- the tenant directory, read for audiences ------------------------------------------------

    def tenant_directory(self) -> list[TenantEntry]:
        """The directory's keys and names (authors pick audiences by name)."""
        return self._tenants.tenants()

    def state_row(self, key: str, item_id: str) -> StateRecord | None:
        entity = self._storage.get(self._state, key, item_id)
        return None if entity is None else _state(entity)

    def save_state(self, rows: list[StateRecord]) -> None:
        """Rows of one user: one entity-group transaction (all or nothing)."""
        if rows:
            self._storage.write_partition(self._state, [_state_entity(r) for r in rows], upsert=True)

    def mark_checked(self, key: str, salt_version: str, at: datetime) -> None:
        """Older salt versions were looked at for this key: do not look again."""
        row = {"PartitionKey": key, "RowKey": MARKER_ROW, "salt_version": salt_version, "updated_at": at}
        self._storage.write_partition(self._state, [row], upsert=True)

    def delete_partition_state(self, key: str) -> int:
        rows = self._storage.partition(self._state, key, select=["RowKey"])
        return self._storage.delete_entities(self._state, ((key, r["RowKey"]) for r in rows))

    def state_for_items(self, item_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(key, item) of every state row of these items (retention: a filtered table query)."""
        found: list[tuple[str, str]] = []
        for item_id in item_ids:
            rows = self._storage.query(
                self._state, "RowKey eq @item", {"item": item_id}, select=["PartitionKey"]
            )
            found.extend((r["PartitionKey"], item_id) for r in rows)
        return found

    def state_updated_before(self, cutoff: datetime) -> list[tuple[str, str]]:
        rows = self._storage.query(
            self._state, "updated_at lt @cutoff", {"cutoff": cutoff}, select=["PartitionKey", "RowKey"]
        )
        return [(r["PartitionKey"], r["RowKey"]) for r in rows]

    def delete_state(self, keys: Iterable[tuple[str, str]]) -> int:
        return self._storage.delete_entities(self._state, keys)

    # ---- answers ------------------------------------------------------------------------------

    def save_answer(self, answer: AnswerRecord) -> None:
        """Upsert under (item, key): a second answer replaces the first."""
        self._storage.write_partition(self._answers, [_answer_entity(answer)], upsert=True)

    def answer(self, item_id: str, key: str) -> AnswerRecord | None:
        entity = self._storage.get(self._answers, item_id, key)
        return None if entity is None else _answer(entity)

    def answers(self, item_id: str) -> list[AnswerRecord]:
        return self.answers_and_snapshot(item_id)[0]

    def answers_and_snapshot(self, item_id: str) -> tuple[list[AnswerRecord], SnapshotRecord | None]:
        """A survey's answers and its published snapshot: one partition read."""
        answers: list[AnswerRecord] = []
        snapshot = None
        for entity in self._storage.partition(self._answers, item_id):
            if entity["RowKey"] == SNAPSHOT_ROW:
                snapshot = SnapshotRecord(item_id, entity["taken_at"], entity["data"])
            else:
                answers.append(_answer(entity))
        return answers, snapshot

    def save_snapshot(self, snapshot: SnapshotRecord) -> None:
        row = {
            "PartitionKey": snapshot.item_id,
            "RowKey": SNAPSHOT_ROW,
            "taken_at": snapshot.taken_at,
            "data": snapshot.data,
        }
        self._storage.write_partition(self._answers, [row], upsert=True)

    def answers_by(self, key: str) -> list[AnswerRecord]:
        """One user's answers to every survey (erasure and export: a filtered table query)."""
        return [_answer(e) for e in self._storage.query(self._answers, "RowKey eq @key", {"key": key})]

    def answers_before(self, cutoff: datetime) -> list[tuple[str, str]]:
        rows = self._storage.query(
            self._answers, "answered_at lt @cutoff", {"cutoff": cutoff}, select=["PartitionKey", "RowKey"]
        )
        return [(r["PartitionKey"], r["RowKey"]) for r in rows]

    def delete_answers(self, keys: Iterable[tuple[str, str]]) -> int:
        return self._storage.delete_entities(self._answers, keys)

    def salt_versions(self) -> set[str]:
        """Salt versions that state rows and answers were written under (retention: may an old
        version be disabled?). Projected scans of both tables: rows are small, once a day."""
        return {
            row["salt_version"]
            for table in (self._state, self._answers)
            for row in self._storage.scan(table, select=["salt_version"])
            if row.get("salt_version")
        }
