"""All Azure Table Storage access: table names, keys and the SDK live here and nowhere else.

Layout (docs/storage.md has the reasoning and numbers):

* `consent` — partition = consent key (never the raw user id); row `state` is the current
  decision, rows `h<time><nonce>` its history. One partition, so a decision and its history
  entry are written in one entity-group transaction: never half-way.
* `ev<YYYYMMDD>` — raw events, one table per UTC day, so expiry deletes a whole day in one
  operation. Partition = one user (or an anonymous tenant bucket), row key = event id.
* `audit` — ops calls, partitioned by day.

Failures of the service (unreachable, throttled, 5xx, auth) become StorageUnavailable → 503.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import EdmType, EntityProperty, TableServiceClient, UpdateMode

from shared.errors import StorageUnavailable
from shared.events import StoredEvent, coarse_time
from shared.logs import log

LOG = logging.getLogger("cetegra.storage")

CONSENT = "consent"
AUDIT = "audit"
EVENTS = "ev"
STATE_ROW = "state"
AGGREGATES = {"daily": "aggdaily", "monthly": "aggmonthly"}
AGGREGATE_KEYS = {"daily": ("tenant", "user_type", "name", "app"), "monthly": ("tenant", "user_type")}
AGGREGATE_STATE = "aggstate"
SALT_USAGE = "saltusage"
MAX_BATCH = 100
ANONYMOUS_BUCKETS = 64
"""Entity-group transactions hold at most 100 entities of one partition (and < 4 MiB)."""

Entity = dict[str, Any]

CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 2,
    "connection_timeout": 3,
    "read_timeout": 10,
}
"""Fail fast: a client waiting on a dead store gets 503 + Retry-After within seconds, not minutes."""


def period_key(kind: str, day: date) -> str:
    """`YYYYMMDD` (daily) or `YYYYMM` (monthly), zero-padded: `strftime("%Y")` is not for years
    before 1000, and every key must parse back and sort as a date does."""
    if kind == "daily":
        return f"{day.year:04d}{day.month:02d}{day.day:02d}"
    return f"{day.year:04d}{day.month:02d}"


def period_day(key: str) -> date:
    """The inverse of period_key: `YYYYMMDD` → that day, `YYYYMM` → the month's first day."""
    return date(int(key[:4]), int(key[4:6]), int(key[6:8]) if len(key) >= 8 else 1)


def int64(value: int) -> EntityProperty:
    """Pseudonyms use all 63 bits; the SDK refuses ints >= 2^31 unless typed Int64."""
    return EntityProperty(value, EdmType.INT64)


def _plain(entity: Mapping[str, Any]) -> Entity:
    return {
        key: (value.value if isinstance(value, EntityProperty) else value) for key, value in entity.items()
    }


@contextmanager
def _service_errors(operation: str) -> Iterator[None]:
    try:
        yield
    except ResourceNotFoundError:
        raise
    except HttpResponseError as exc:
        if exc.status_code == 404 and getattr(exc, "error_code", None) == "TableNotFound":
            raise _TableMissing from None
        _unavailable(operation, exc)
    except (AzureError, OSError) as exc:
        _unavailable(operation, exc)


def _unavailable(operation: str, exc: Exception) -> NoReturn:
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    log(
        LOG,
        logging.WARNING,
        "storage.unavailable",
        operation=operation,
        error=type(exc).__name__,
        status=status,
    )
    raise StorageUnavailable("table storage is unavailable") from None


def _event_entity(event: StoredEvent, partition: str, pseudonym: EntityProperty | None) -> Entity:
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


def _stored_event(entity: Entity) -> StoredEvent:
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


@dataclass
class AggregateState:
    """Which periods are built, and whether they were final (past the late-event window) then."""

    daily: dict[date, bool] = field(default_factory=dict)
    monthly: dict[date, bool] = field(default_factory=dict)


class _TableMissing(Exception):
    """The table does not exist yet (a transaction reports this as 404 TableNotFound)."""


class Storage:
    """Thin, typed access to the project's tables in one storage account."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self._prefix = prefix
        self._known_tables: set[str] = set()
        self._salt_usage: set[tuple[date, str]] = set()

    @classmethod
    def connect(
        cls,
        *,
        connection_string: str | None,
        endpoint: str | None,
        prefix: str = "",
        **client_kwargs: Any,
    ) -> Storage:
        """Azurite locally (connection string); in Azure the managed identity, never keys."""
        options = {**CLIENT_OPTIONS, **client_kwargs}
        # requests otherwise re-reads proxy settings from the whole environment on every call.
        options.setdefault("transport", RequestsTransport(use_env_settings=False))
        if connection_string:
            service = TableServiceClient.from_connection_string(connection_string, **options)
        else:
            from azure.identity import DefaultAzureCredential

            assert endpoint is not None
            credential = options.pop("credential", None) or DefaultAzureCredential()
            service = TableServiceClient(endpoint=endpoint, credential=credential, **options)
        return cls(service, prefix)

    # ---- tables -------------------------------------------------------------------------------

    def table(self, base: str) -> str:
        return f"{self._prefix}{base}"

    @staticmethod
    def events_table_base(day: date) -> str:
        return f"{EVENTS}{period_key('daily', day)}"

    def ensure_table(self, name: str) -> None:
        if name in self._known_tables:
            return
        with _service_errors("create_table"):
            self._service.create_table_if_not_exists(name)
        self._known_tables.add(name)

    def list_tables(self, base_prefix: str) -> list[str]:
        """Names of tables that start with prefix+base_prefix (range query on TableName)."""
        low = self.table(base_prefix)
        high = low + "{"  # '{' sorts after every alphanumeric character
        with _service_errors("query_tables"):
            return sorted(
                table.name
                for table in self._service.query_tables(
                    "TableName ge @low and TableName lt @high",
                    parameters={"low": low, "high": high},
                )
            )

    def delete_table(self, name: str) -> None:
        with _service_errors("delete_table"):
            self._service.delete_table(name)
        self._known_tables.discard(name)

    def ping(self) -> None:
        """Health: one cheap round trip to the table service."""
        with _service_errors("ping"):
            next(iter(self._service.list_tables(results_per_page=1).by_page()), None)

    # ---- entity-group transactions ------------------------------------------------------------

    def write_partition(self, table: str, entities: list[Entity], *, upsert: bool) -> None:
        """Write entities of one partition as one transaction per 100: all or nothing per call.

        Creates the table on first use (cached) so the hot path costs one transaction.
        """
        operations: list[Any] = [
            ("upsert", e, {"mode": UpdateMode.REPLACE}) if upsert else ("create", e) for e in entities
        ]
        try:
            self._submit(table, operations)
        except _TableMissing:
            self._known_tables.discard(table)
            self.ensure_table(table)
            self._submit(table, operations)

    def _submit(self, table: str, operations: list[Any]) -> None:
        """Entity-group transactions of at most 100 operations (callers keep one partition)."""
        client = self._service.get_table_client(table)
        for i in range(0, len(operations), MAX_BATCH):
            with _service_errors("transaction"):
                client.submit_transaction(operations[i : i + MAX_BATCH])

    # ---- reads ---------------------------------------------------------------------------------

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        client = self._service.get_table_client(table)
        try:
            with _service_errors("get_entity"):
                return _plain(client.get_entity(partition, row))
        except ResourceNotFoundError:
            return None

    def partition(self, table: str, partition: str, *, select: list[str] | None = None) -> list[Entity]:
        """Every entity of one partition (a range read of that partition only, never a scan)."""
        return self.query(table, "PartitionKey eq @pk", {"pk": partition}, select=select)

    def query(
        self,
        table: str,
        filter_: str,
        parameters: Mapping[str, Any],
        *,
        select: list[str] | None = None,
    ) -> list[Entity]:
        client = self._service.get_table_client(table)
        try:
            with _service_errors("query"):
                return [
                    _plain(entity)
                    for entity in client.query_entities(filter_, parameters=dict(parameters), select=select)
                ]
        except ResourceNotFoundError:
            return []

    def scan(self, table: str, *, select: list[str] | None = None) -> Iterable[Entity]:
        """Every entity of a table, page by page (aggregation and tests only)."""
        client = self._service.get_table_client(table)
        try:
            with _service_errors("scan"):
                for entity in client.list_entities(select=select, results_per_page=1000):
                    yield _plain(entity)
        except ResourceNotFoundError:
            return

    def delete_entities(self, table: str, keys: Iterable[tuple[str, str]]) -> int:
        """Delete by (partition, row), one transaction per partition and 100 rows; returns the count."""
        by_partition: dict[str, list[str]] = {}
        for partition, row in keys:
            by_partition.setdefault(partition, []).append(row)
        count = 0
        for partition, rows in by_partition.items():
            try:
                self._submit(table, [("delete", {"PartitionKey": partition, "RowKey": row}) for row in rows])
            except _TableMissing:
                return count
            count += len(rows)
        return count

    # ---- raw events -----------------------------------------------------------------------------

    def events_table(self, day: date) -> str:
        return self.table(self.events_table_base(day))

    @staticmethod
    def event_partition(pseudonym: int | None, tenant_ref: str) -> str:
        """One user's events of a day share a partition (erasure reads only theirs; a request is one
        transaction). Anonymous events have no session: they go to one of 64 buckets by tenant, so
        a request is still one transaction and a re-sent event lands on its own row again."""
        if pseudonym is not None:
            return f"u{pseudonym:016x}"
        return f"a{zlib.crc32(tenant_ref.encode()) % ANONYMOUS_BUCKETS:02x}"

    def write_events(self, events: Iterable[StoredEvent]) -> int:
        """Upsert events keyed by event id: a re-sent event replaces itself, never duplicates.

        Events of one request share a day and a partition, so this is one entity-group transaction
        (all or nothing). A batch whose client times straddle midnight takes one per day; if the
        second fails the client gets 503, and its retry re-writes both idempotently.
        """
        # One dict lookup per event; table, partition, Int64 value and salt usage once per group.
        groups: dict[tuple[date, int | str, str], tuple[str, str, EntityProperty | None, list[Entity]]] = {}
        for event in events:
            day = (event.ts or event.received).date()
            pseudonym = event.pseudonym
            key = (day, event.tenant_ref if pseudonym is None else pseudonym, event.salt_version)
            group = groups.get(key)
            if group is None:
                group = groups[key] = (
                    self.events_table(day),
                    self.event_partition(pseudonym, event.tenant_ref),
                    None if pseudonym is None else int64(pseudonym),
                    [],
                )
            group[3].append(_event_entity(event, group[1], group[2]))
        for day, _, version in groups:
            self.note_salt_usage(day, version)
        for table, _, _, entities in groups.values():
            self.write_partition(table, entities, upsert=True)
        return sum(len(group[3]) for group in groups.values())

    def read_events(self, day: date) -> Iterator[StoredEvent]:
        for entity in self.scan(self.events_table(day)):
            yield _stored_event(entity)

    def event_days(self) -> list[date]:
        """Days that have a raw-event table (one listing call). Only exact `ev<YYYYMMDD>` names
        count, so consent, aggregate and audit tables can never be mistaken for events."""
        prefix = self.table(EVENTS)
        days = []
        for name in self.list_tables(EVENTS):
            digits = name[len(prefix) :]
            if len(digits) == 8 and digits.isdigit():
                days.append(period_day(digits))
        return sorted(days)

    def user_events(self, day: date, pseudonym: int) -> list[Entity]:
        """One user's events of one day: an exact-partition query, never a scan of everyone's."""
        return self.partition(self.events_table(day), self.event_partition(pseudonym, ""))

    def delete_events(self, day: date, entities: list[Entity]) -> int:
        return self.delete_entities(
            self.events_table(day), ((e["PartitionKey"], e["RowKey"]) for e in entities)
        )

    def unlink_events(self, day: date, entities: list[Entity]) -> int:
        """Keep the events as anonymous rows (no pseudonym, session id or user type; hour only):
        copy each into its tenant bucket, then delete the original. A crash in between leaves a
        copy that a re-run rewrites (same key)."""
        table = self.events_table(day)
        buckets: dict[str, list[Entity]] = {}
        for entity in entities:
            anonymous: Entity = {
                k: coarse_time(v) if k in ("ts", "received") else v
                for k, v in entity.items()
                if k not in ("pseudonym", "Timestamp", "session_id", "user_type")
            }
            anonymous["PartitionKey"] = self.event_partition(None, entity["tenant"])
            buckets.setdefault(anonymous["PartitionKey"], []).append(anonymous)
        for rows in buckets.values():
            self.write_partition(table, rows, upsert=True)
        return self.delete_events(day, entities)

    # ---- salt usage (which salt versions still have raw data) ----------------------------------

    def note_salt_usage(self, day: date, version: str) -> None:
        """Record once per process that `version` made data on `day` (one upsert per new pair), so
        retention can tell which versions have no data left without reading any event."""
        key = (day, version)
        if key in self._salt_usage:
            return
        row = {"PartitionKey": "usage", "RowKey": f"{period_key('daily', day)}|{version}"}
        self.write_partition(self.table(SALT_USAGE), [row], upsert=True)
        self._salt_usage.add(key)

    def salt_usage(self) -> list[tuple[date, str]]:
        rows = self.partition(self.table(SALT_USAGE), "usage", select=["RowKey"])
        out = []
        for row in rows:
            day, _, version = row["RowKey"].partition("|")
            out.append((period_day(day), version))
        return out

    def forget_salt_usage(self, entries: list[tuple[date, str]]) -> None:
        self.delete_entities(
            self.table(SALT_USAGE), (("usage", f"{period_key('daily', d)}|{v}") for d, v in entries)
        )

    def scan_events(self, day: date, fields: list[str]) -> Iterator[Entity]:
        """The named fields of one day's events, server-side projected ($select)."""
        return iter(self.scan(self.events_table(day), select=fields))

    # ---- audit ---------------------------------------------------------------------------------

    def write_audit(self, record: Entity) -> None:
        self.write_partition(self.table(AUDIT), [record], upsert=False)

    def audit_records(self, day: str) -> list[Entity]:
        return self.partition(self.table(AUDIT), day)

    # ---- aggregates -----------------------------------------------------------------------------

    def replace_aggregates(self, kind: str, day: date, rows: list[Entity]) -> None:
        """Make a period's cells exactly `rows`: deterministic keys and upserts, then delete cells
        a rebuild no longer has (e.g. folded after late events). Re-running gives identical rows."""
        period = period_key(kind, day)
        table = self.table(AGGREGATES[kind])
        keys = AGGREGATE_KEYS[kind]
        entities = [{"PartitionKey": period, "RowKey": "|".join(row[k] for k in keys), **row} for row in rows]
        existing = {e["RowKey"] for e in self.partition(table, period, select=["RowKey"])}
        if entities:
            self.write_partition(table, entities, upsert=True)
        stale = existing - {e["RowKey"] for e in entities}
        if stale:
            self.delete_entities(table, ((period, row) for row in sorted(stale)))

    def aggregates(self, kind: str, day: date) -> list[Entity]:
        return self.partition(self.table(AGGREGATES[kind]), period_key(kind, day))

    def aggregate_state(self) -> AggregateState:
        state = AggregateState()
        for row in self.scan(self.table(AGGREGATE_STATE)):
            key = row["RowKey"]
            if row["PartitionKey"] == "daily":
                state.daily[period_day(key)] = bool(row["final"])
            else:
                state.monthly[period_day(key)] = bool(row["final"])
        return state

    def save_aggregate_state(self, kind: str, day: date, *, final: bool, events: int) -> None:
        """Recorded after a period's cells are written, so a crash resumes by rebuilding it."""
        row = {"PartitionKey": kind, "RowKey": period_key(kind, day), "final": final, "events": events}
        self.write_partition(self.table(AGGREGATE_STATE), [row], upsert=True)

    @property
    def service(self) -> TableServiceClient:
        """The SDK client, for the benchmark's raw-SDK baseline and for tests only."""
        return self._service
