"""Raw events: each UTC day in its own eight tables (`ev<YYYYMMDD>s<0-7>`), so expiry deletes a
whole day in a fixed number of calls, whatever it holds.

Partition = one user's events of the day (`u<pseudonym, 16 hex>`), or one of 64 anonymous
buckets by tenant (`a<bucket>`: anonymous rows have no session); row key = the client's event
id. A partition lives in one of the day's tables, chosen by its key (`shard_of`), so a request
is still one transaction and erasure still reads one exact partition per day. This module alone
knows those keys, names and columns; callers see `StoredEvent` records and the `EventFacts`
projection.

Why a day is split: the nightly aggregation reads a whole day. A table scan is a chain
of 1,000-entity pages; the local emulator filters and sorts the whole table for every
continuation page, so one 100,000-event table cost Azurite ~9 s of CPU to page through and eight
12,500-event tables ~2 s (docs/benchmarks.md). The tables are read one after another (each with
its next page prefetched); in Azure, where a page costs the same in any table, the split gains
nothing by itself and costs eight table deletes a day instead of one.

Tables of the earlier layout (one `ev<YYYYMMDD>` per day) are still found, read, expired and
erased: `days()` notes them, and scans, a data subject's reads and deletes include them.

Consent markers: a user's day partition also holds one row `~consent` (columns
`state` and `checked`), written in the same transaction as every batch of that user's events —
inserted if absent, else replaced only if it still has the ETag last seen (`If-Match`). A worker
that wrote the marker remembers its ETag, and its next request for that partition is that one
transaction, with no consent read, while the consent read behind the marker is recent
(MARKER_TRUST). "Withdrawal stops all future collection immediately" still holds, because a
withdrawal (and an erasure) first stores the decision, then rewrites the marker as `revoked` in
every table the user's events may still go to (`revoke`), which changes its ETag: every
remembered or read ETag fails, and the next request reads `revoked`, then the consent, before it
writes (`write_consented`; docs/storage.md has the argument). Readers skip markers; the nightly
retention removes them once their day can take no more events (`seal`), erasure on any such day.
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from azure.data.tables import EntityProperty

from shared.kernel.errors import StorageUnavailable
from shared.kernel.periods import coarse_time
from shared.storage.core import (
    Entity,
    RowChanged,
    Storage,
    TableMissing,
    int64,
    period_day,
    period_key,
)

EVENTS = "ev"
ANONYMOUS_BUCKETS = 64
SHARDS = 8
"""Tables per day. Part of the stored layout: changing it strands the days already written."""

MARKER = "~consent"
"""Row key of the consent marker in a user's day partition (event ids are UUIDs: never this)."""
GRANTED, REVOKED = "granted", "revoked"
"""A marker's `state`: written with events (after a consent read, or on a granted marker's word),
or by a withdrawal or erasure."""
MARKER_TRUST = timedelta(minutes=5)
"""How long a consent read vouches for a marker (its `checked` column): after that the next
request reads the consent again. A withdrawal stops collection at once by rewriting the markers;
if that rewrite failed (storage trouble, 503), this bounds how long an instance that remembers a
marker could go on writing."""
MARKS_REMEMBERED = 50_000
"""Markers whose ETag one worker keeps (about 100 bytes each); the oldest is forgotten first."""
MARK_ATTEMPTS = 8
"""Marker read → consent read → conditional write, tried this often while other requests of the
same user keep changing the marker (with a growing random pause between, so the racing requests
spread out); then 503, and the client retries later."""
MARK_PAUSE = 0.004
"""Seconds: the pause before attempt n is random, up to n times this."""

FACT_COLUMNS = ["session_id", "tenant", "user_type", "name", "app", "pseudonym", "page"]
"""The columns `EventFacts` projects (server-side $select), in its field order: what aggregation
counts."""

PLACE_COLUMNS = ["app", "page", "name"]
"""The columns `places` reads: where an event happened (its name only tells events from markers)."""

LINK_COLUMNS = ["pseudonym"]
"""The only column that links an event to a person (the erasure benchmark's full-scan baseline)."""


class EventFacts(NamedTuple):
    """What aggregation needs of one raw event: who-ish (pseudonym, session) and where, no more."""

    session_id: str | None
    tenant_ref: str
    user_type: str | None
    name: str
    app: str | None
    pseudonym: int | None
    page: str | None
    """The route template (or `(unlisted)`): page views are features of the reports."""


class StoredEvent(NamedTuple):
    """The minimised record kept in raw form for at most 24 months."""

    event_id: str
    name: str
    session_id: str | None
    """None on anonymous rows: a session would link their events together."""
    received: datetime
    ts: datetime | None
    app: str | None
    page: str | None
    tenant_ref: str
    user_type: str | None
    """None on anonymous rows: in a small tenant the user type alone can single a person out."""
    pseudonym: int | None
    """Present only under granted consent; None for anonymous events."""
    salt_version: str

    @property
    def day(self) -> datetime:
        """The UTC instant whose day holds this event: the client's time when sent, so a retry of
        the same event always lands on the same table and row."""
        return self.ts or self.received


def event_partition(pseudonym: int | None, tenant_ref: str) -> str:
    """One user's events of a day share a partition (erasure reads only theirs; a request is one
    transaction). Anonymous events have no session: they go to one of 64 buckets by tenant, so
    a request is still one transaction and a re-sent event lands on its own row again."""
    if pseudonym is not None:
        return f"u{pseudonym:016x}"
    return f"a{zlib.crc32(tenant_ref.encode()) % ANONYMOUS_BUCKETS:02x}"


def shard_of(partition: str) -> int:
    """The day table that holds a partition: a stable hash of its key (crc32, not Python's
    per-process `hash`), even across pseudonyms and anonymous buckets alike."""
    return zlib.crc32(partition.encode()) % SHARDS


def entity_of(event: StoredEvent) -> Entity:
    """The entity exactly as `EventStore.write` stores it (the benchmark's raw-SDK baseline)."""
    pseudonym = event.pseudonym
    return _entity(
        event, event_partition(pseudonym, event.tenant_ref), None if pseudonym is None else int64(pseudonym)
    )


def as_stored(event: StoredEvent) -> dict[str, Any]:
    """The event's columns as its row holds them (absent optional columns left out): the data
    subject's export shows the raw events "as stored"."""
    row = _entity(event, "", None)
    del row["PartitionKey"], row["RowKey"]
    if event.pseudonym is not None:
        row["pseudonym"] = event.pseudonym
    return row


def _entity(event: StoredEvent, partition: str, pseudonym: EntityProperty | None) -> Entity:
    entity: Entity = {
        "PartitionKey": partition,
        "RowKey": event.event_id,
        "name": event.name,
        "received": event.received,
        "tenant": event.tenant_ref,
        "salt_version": event.salt_version,
    }
    if event.session_id is not None:  # anonymous rows have neither
        entity["session_id"] = event.session_id
    if event.user_type is not None:
        entity["user_type"] = event.user_type
    if event.ts is not None:
        entity["ts"] = event.ts
    if event.app is not None:
        entity["app"] = event.app
    if event.page is not None:
        entity["page"] = event.page
    if pseudonym is not None:
        entity["pseudonym"] = pseudonym
    return entity


def _marker(partition: str, state: str, checked: datetime | None) -> Entity:
    """The marker row (`checked` absent on a revoked one)."""
    marker: Entity = {"PartitionKey": partition, "RowKey": MARKER, "state": state}
    if checked is not None:
        marker["checked"] = checked
    return marker


class _Mark(NamedTuple):
    """A marker as a request may write on it: its ETag and when a consent read last vouched."""

    etag: str
    checked: datetime


def _read_mark(found: tuple[Entity, str]) -> _Mark | None:
    """A stored marker a request may write on without a consent read: `granted`, with the time a
    consent read vouched for it; None for any other (a `revoked` one, or one from elsewhere)."""
    marker, etag = found
    checked = marker.get("checked")
    if marker.get("state") != GRANTED or not isinstance(checked, datetime):
        return None
    return _Mark(etag, checked)


def _events(entities: Iterable[Entity]) -> Iterator[StoredEvent]:
    """The events among a partition's or table's rows (its consent markers left out)."""
    return (_event(entity) for entity in entities if entity["RowKey"] != MARKER)


class _Group(NamedTuple):
    """One transaction's worth of a request: a day's events of one partition."""

    table: str
    partition: str
    pseudonym: EntityProperty | None
    entities: list[Entity]


def _event(entity: Entity) -> StoredEvent:
    return StoredEvent(
        event_id=entity["RowKey"],
        name=entity["name"],
        session_id=entity.get("session_id"),
        received=entity["received"],
        ts=entity.get("ts"),
        app=entity.get("app"),
        page=entity.get("page"),
        tenant_ref=entity["tenant"],
        user_type=entity.get("user_type"),
        pseudonym=entity.get("pseudonym"),
        salt_version=entity["salt_version"],
    )


class EventStore:
    """The raw-event day tables."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._marks: dict[tuple[str, str], _Mark] = {}
        """(table, partition) → the ETag this worker last gave that consent marker, and when a
        consent read last vouched for it."""
        self._marks_lock = threading.Lock()
        self._legacy: set[date] | None = None
        """Days with a table of the earlier layout, as `days()` listings found them (None: not
        listed yet, so every day may have one). Callers that erase, export, expire or aggregate
        list the days first; this version never creates such a table."""

    def table(self, day: date, partition: str) -> str:
        """The table that holds `partition` on `day`."""
        return self._shard_table(day, shard_of(partition))

    def _shard_table(self, day: date, shard: int) -> str:
        return f"{self._legacy_table(day)}s{shard}"

    def _legacy_table(self, day: date) -> str:
        """The day's one table of the earlier layout (the eight append `s<shard>` to its name)."""
        return self._storage.table(f"{EVENTS}{period_key('daily', day)}")

    def tables(self, day: date) -> list[str]:
        """Every table that holds `day`'s events: its eight, and its earlier-layout table if
        there may be one."""
        names = [self._shard_table(day, shard) for shard in range(SHARDS)]
        if self._may_be_legacy(day):
            names.append(self._legacy_table(day))
        return names

    def _may_be_legacy(self, day: date) -> bool:
        return self._legacy is None or day in self._legacy

    def write(self, events: Iterable[StoredEvent]) -> int:
        """Upsert events keyed by event id: a re-sent event replaces itself, never duplicates.

        Events of one request share a day and a partition, so this is one entity-group transaction
        (all or nothing). A batch whose client times straddle midnight takes one per day; if the
        second fails the client gets 503, and its retry re-writes both idempotently. Anonymous
        rows, the seed data and the erasure's copies are written so; a consented user's events
        go through `write_consented`.
        """
        return self._write(self._groups(events))

    def _write(self, groups: list[_Group]) -> int:
        """Upsert each group's events, one transaction per group; returns the events written."""
        for group in groups:
            self._storage.write_partition(group.table, group.entities, upsert=True)
        return sum(len(group.entities) for group in groups)

    def _groups(self, events: Iterable[StoredEvent]) -> list[_Group]:
        """The request's events by transaction: one dict lookup per event; table, partition and
        Int64 value once per group."""
        groups: dict[tuple[date, int | str], _Group] = {}
        for event in events:
            day = (event.ts or event.received).date()
            pseudonym = event.pseudonym
            key = (day, event.tenant_ref if pseudonym is None else pseudonym)
            group = groups.get(key)
            if group is None:
                partition = event_partition(pseudonym, event.tenant_ref)
                group = groups[key] = _Group(
                    self.table(day, partition),
                    partition,
                    None if pseudonym is None else int64(pseudonym),
                    [],
                )
            group.entities.append(_entity(event, group.partition, group.pseudonym))
        return list(groups.values())

    def write_consented(
        self, events: Iterable[StoredEvent], consented: Callable[[], bool], now: datetime
    ) -> bool:
        """Write one user's events only while their consent stands; False (nothing written) if
        `consented()` says it does not.

        Each partition's events go with its consent marker in one transaction, conditional on the
        marker's ETag: it fails, storing nothing, if anyone changed the marker since it was read.
        Where this worker remembers the ETag it last gave the marker, and a consent read vouched
        for it less than MARKER_TRUST ago, that transaction is the whole request. Where it knows
        no marker, it asks `consented()` (the consent read) and inserts the marker, which fails if
        one exists. Otherwise, or after that failed, in this order: read the marker; unless it
        says `granted` and was vouched for recently, ask `consented()`; write. A `granted` marker
        was written by a request that had read the consent, and a withdrawal stores its decision
        before it rewrites the marker (`revoke`), so a granted marker's ETag is as good as a
        remembered one: if a withdrawal came in between, the write fails, and the next attempt
        reads `revoked` and the consent.

        Every size is conditional, a full request too: 100 events of a partition leave no room
        for the marker in one transaction, so they take two (99 events, then 1), the second
        conditional on the ETag the first gave the marker (`Storage.write_conditional`). A
        withdrawal that lands between them changes that ETag before it returns, so the second
        fails and the retry reads `revoked`: the events stored are those of the first transaction,
        committed before the withdrawal's marker was written, hence before it returned ("stops all
        future collection immediately"), and none after it. The response then counts the request
        as dropped; a re-sent request is idempotent (event ids are row keys).
        """
        groups = self._groups(events)
        fresh = now - MARKER_TRUST
        known = [self._marks.get((group.table, group.partition)) for group in groups]
        if all(mark is not None and mark.checked > fresh for mark in known):
            try:
                self._write_marked(groups, known)
                return True
            except RowChanged:
                pass  # the marker changed: read it (and perhaps the consent) again
        elif all(mark is None for mark in known):
            # Most likely the user's first request of the day: read the consent, then insert the
            # marker with the events. The insert fails if any marker exists by then, so also if a
            # withdrawal stored after the consent read has marked the table.
            if not consented():
                return False
            try:
                self._write_marked(groups, [None] * len(groups), now)
                return True
            except RowChanged:
                pass  # a marker exists (another worker's, or a withdrawal's): read it
        for attempt in range(MARK_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, attempt * MARK_PAUSE))  # noqa: S311 - jitter, not secrecy
            read = [self._storage.get_versioned(group.table, group.partition, MARKER) for group in groups]
            trusted = [None if found is None else _read_mark(found) for found in read]
            try:
                if all(mark is not None and mark.checked > fresh for mark in trusted):
                    self._write_marked(groups, trusted)  # granted, vouched for lately: their word stands
                elif consented():
                    self._write_marked(groups, [None if f is None else _Mark(f[1], now) for f in read], now)
                else:
                    return False
                return True
            except RowChanged:
                continue
        raise StorageUnavailable("the consent marker keeps changing")

    def _write_marked(
        self, groups: list[_Group], marks: list[_Mark | None], checked: datetime | None = None
    ) -> None:
        """Each group with its marker, conditional on `marks` (None: insert). The marker is
        vouched for as of `checked` (a consent read just now), else as of its mark's own time."""
        for group, mark in zip(groups, marks, strict=True):
            key = (group.table, group.partition)
            vouched = checked if checked is not None else mark.checked if mark is not None else None
            assert vouched is not None, "an insert follows a consent read"
            marker = _marker(group.partition, GRANTED, vouched)
            try:
                etag = self._storage.write_conditional(
                    group.table, group.entities, marker, None if mark is None else mark.etag
                )
            except (RowChanged, TableMissing) as exc:
                with self._marks_lock:
                    self._marks.pop(key, None)
                if isinstance(exc, TableMissing):
                    # A withdrawal meanwhile has made the table and marked it, or will: read the
                    # marker (and the consent) again once the table exists.
                    self._storage.ensure_table(group.table)
                    raise RowChanged(group.table) from None
                raise
            with self._marks_lock:
                self._marks.pop(key, None)  # re-inserted last: the oldest is forgotten first
                self._marks[key] = _Mark(etag, vouched)
                if len(self._marks) > MARKS_REMEMBERED:
                    self._marks.pop(next(iter(self._marks)), None)

    def revoke(self, days: Iterable[date], pseudonyms: Iterable[int]) -> int:
        """After a withdrawal or an erasure is stored: rewrite the user's consent marker as
        `revoked` on each day their events may still go to (under each pseudonym, as workers may
        still use an older salt version), so no remembered or read ETag holds any more. A marker
        is written even where none was, creating the day's table if need be, so that a request
        which read the consent before the withdrawal cannot insert one after it. Returns the
        rows written."""
        count = 0
        pseudonyms = list(pseudonyms)
        for day in days:
            for pseudonym in pseudonyms:
                partition = event_partition(pseudonym, "")
                table = self.table(day, partition)
                with self._marks_lock:
                    self._marks.pop((table, partition), None)
                marker = _marker(partition, REVOKED, None)
                self._storage.write_partition(table, [marker], upsert=True)
                count += 1
        return count

    def seal(self, day: date) -> int:
        """Remove a day's consent markers once no event can be written to that day any more (they
        only guard writes; an erased user's marker must not outlive that). Returns the rows."""
        count = 0
        for shard in range(SHARDS):
            table = self._shard_table(day, shard)
            rows = self._storage.query(table, "RowKey eq @row", {"row": MARKER}, select=["PartitionKey"])
            keys = ((str(row["PartitionKey"]), MARKER) for row in rows)
            count += self._storage.delete_entities(table, keys)
        return count

    def read(self, day: date) -> Iterator[StoredEvent]:
        for table in self.tables(day):
            yield from _events(self._storage.scan(table))

    def facts(self, day: date) -> Iterator[EventFacts]:
        """The aggregation's projection of one day's events, server-side projected ($select)."""
        for table in self.tables(day):
            for row in self._storage.rows(table, FACT_COLUMNS):
                if row[3] is not None:  # a name: an event, not a consent marker
                    yield EventFacts._make(row)

    def places(self, day: date) -> Iterator[tuple[Any, ...]]:
        """(app, page) of each of one day's events, projected server-side: what the catalogue
        review counts (how many arrived as `(unlisted)`), nothing that points at a person:
        `(app, page)` tuples, None where absent."""
        for table in self.tables(day):
            for app, page, name in self._storage.rows(table, PLACE_COLUMNS):
                if name is not None:  # an event, not a consent marker
                    yield app, page

    def days(self) -> list[date]:
        """Days that have a raw-event table (one paged listing of the `ev` tables). Only exact
        `ev<YYYYMMDD>s<n>` (or earlier-layout `ev<YYYYMMDD>`) names count, so consent, aggregate
        and audit tables can never be mistaken for events."""
        prefix = self._storage.table(EVENTS)
        days: set[date] = set()
        legacy: set[date] = set()
        for name in self._storage.list_tables(EVENTS):
            rest = name[len(prefix) :]
            digits, shard = rest[:8], rest[8:]
            if len(digits) != 8 or not digits.isdigit():
                continue
            if shard == "":
                legacy.add(period_day(digits))
            elif shard[0] == "s" and shard[1:].isdigit() and int(shard[1:]) < SHARDS:
                days.add(period_day(digits))
        self._legacy = legacy if self._legacy is None else self._legacy | legacy  # never forgets one
        return sorted(days | legacy)

    def ensure_day(self, day: date) -> None:
        for shard in range(SHARDS):
            self._storage.ensure_table(self._shard_table(day, shard))

    def delete_day(self, day: date) -> int:
        """Expiry: the whole day, whatever it holds, in one call per table; returns the calls."""
        tables = self.tables(day)
        for table in tables:
            self._storage.delete_table(table)
        return len(tables)

    def user_events(self, day: date, pseudonym: int) -> list[StoredEvent]:
        """One user's events of one day: an exact-partition query, never a scan of everyone's
        (in the day's table of the user's partition, and in its earlier-layout table if the day
        may have one). Reads only: export calls this too."""
        return self.user_rows(day, pseudonym)[0]

    def user_rows(self, day: date, pseudonym: int) -> tuple[list[StoredEvent], dict[str, Any] | None]:
        """One user's events of one day (as `user_events`), and their consent marker's columns
        if the partition holds one (export shows it; erasure removes it where the day takes no
        more events)."""
        partition = event_partition(pseudonym, "")
        events: list[StoredEvent] = []
        marker = None
        for table in self._tables_of(day, partition):
            for entity in self._storage.partition(table, partition):
                if entity["RowKey"] == MARKER:
                    marker = {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey")}
                else:
                    events.append(_event(entity))
        return events, marker

    def drop_marker(self, day: date, pseudonym: int) -> int:
        """Delete the user's consent marker of a day that takes no more events (the caller read
        that there is one: `user_rows`)."""
        partition = event_partition(pseudonym, "")
        return self._storage.delete_entities(self.table(day, partition), [(partition, MARKER)])

    def _tables_of(self, day: date, partition: str) -> list[str]:
        """The tables that may hold `partition` on `day`: its table, and the earlier-layout one."""
        tables = [self.table(day, partition)]
        if self._may_be_legacy(day):
            tables.append(self._legacy_table(day))
        return tables

    def delete(self, day: date, events: list[StoredEvent]) -> int:
        """Delete these events' rows. On a day that may have an earlier-layout table, each table's
        partition is asked which of the rows it holds (a batch must name existing rows only)."""
        keys: dict[str, set[str]] = {}
        for event in events:
            keys.setdefault(event_partition(event.pseudonym, event.tenant_ref), set()).add(event.event_id)
        count = 0
        for partition, rows in keys.items():
            tables = self._tables_of(day, partition)
            for table in tables:
                held = rows
                if len(tables) > 1:
                    listed = self._storage.partition(table, partition, select=["RowKey"])
                    held = rows & {str(row["RowKey"]) for row in listed}
                if held:
                    count += self._storage.delete_entities(table, ((partition, row) for row in sorted(held)))
        return count

    def unlink(self, day: date, events: list[StoredEvent]) -> int:
        """Keep the events as anonymous rows (no pseudonym, session id or user type; hour only):
        copy each into its tenant bucket, then delete the original. A crash in between leaves a
        copy that a re-run rewrites (same key)."""
        buckets: dict[str, list[Entity]] = {}
        for event in events:
            partition = event_partition(None, event.tenant_ref)
            anonymous = event._replace(
                session_id=None,
                user_type=None,
                pseudonym=None,
                received=coarse_time(event.received),
                ts=None if event.ts is None else coarse_time(event.ts),
            )
            buckets.setdefault(partition, []).append(_entity(anonymous, partition, None))
        for partition, rows in buckets.items():
            self._storage.write_partition(self.table(day, partition), rows, upsert=True)
        return self.delete(day, events)
