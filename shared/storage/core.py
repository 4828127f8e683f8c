"""The storage core: the Table client, transactions, error mapping and period keys.

Every table family (`events`, `consent`, `aggregates`, `audit`, `salt_usage`, one module each in
this package) owns its table names, keys and columns and reaches the service only through the
generic methods of `Storage` below; the core knows no table of its own. docs/storage.md has the
layout, the reasoning and the numbers.

Requests go through azure-core's pipeline (retry policy, credential, transport as the SDK would
configure them); the request bodies and the parsing of responses are the project's own
(`wire.py`), because the SDK's multipart and entity code cost ~1 ms of CPU per entity.
The SDK client is still built, for the benchmarks' raw-SDK baseline (`service`).

Failures of the service (unreachable, throttled, 5xx, auth) become StorageUnavailable → 503.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, NoReturn

import requests
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import EdmType, EntityProperty, TableServiceClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.kernel.errors import StorageUnavailable
from shared.kernel.logs import log
from shared.storage.wire import PAGE_SIZE, Operation, TableError, TableWire, entity_from_json, filter_with
from shared.storage.wire import row_from_json as _row

LOG = logging.getLogger("cetegra.storage")

MAX_BATCH = 100
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


class TableMissing(Exception):
    """A conditional write found no table: the caller decides how to create it and what to write."""


class RowChanged(Exception):
    """A conditional write found its row changed since it was read (412), gone (404), or, for an
    insert, already there (409): the transaction stored nothing."""


@contextmanager
def _service_errors(operation: str, *, reading: bool = False, conditional: bool = False) -> Iterator[None]:
    """Service failures → StorageUnavailable, as the SDK-based core mapped them. Reads treat any
    404 (no such entity or table) as "nothing there"; writes learn that a table is missing; a
    conditional write learns that its condition failed (RowChanged)."""
    try:
        yield
    except TableError as exc:
        if exc.status == 404 and reading:
            raise _Absent from None
        if exc.status == 404 and exc.code == "TableNotFound":
            raise _TableMissing from None
        if conditional and exc.status in (404, 409, 412):
            raise RowChanged(exc.code) from None
        _unavailable(operation, exc)
    except (AzureError, OSError) as exc:
        _unavailable(operation, exc)


def _unavailable(operation: str, exc: Exception) -> NoReturn:
    status = exc.status if isinstance(exc, TableError) else None
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
    log(
        LOG,
        logging.WARNING,
        "storage.unavailable",
        operation=operation,
        error=type(exc).__name__,
        status=status,
        code=exc.code if isinstance(exc, TableError) else None,
    )
    raise StorageUnavailable("table storage is unavailable") from None


def _transport() -> RequestsTransport:
    """requests would re-read proxy settings from the whole environment on every call, and its
    default pool keeps 10 connections, fewer than one worker's concurrent invocations: the rest
    would reconnect on every request."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(
        pool_maxsize=64, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
    )  # retries are the pipeline's RetryPolicy's job, as in RequestsTransport's own session
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(session=session, session_owner=True, use_env_settings=False)


class _TableMissing(Exception):
    """The table does not exist yet (a transaction reports this as 404 TableNotFound)."""


class _Absent(Exception):
    """A read found no such entity or table (404)."""


class Storage:
    """Generic access to one storage account: the table families build on these methods only."""

    def __init__(
        self, service: TableServiceClient, prefix: str = "", *, wire: TableWire | None = None
    ) -> None:
        self._service = service
        self._prefix = prefix
        self._known_tables: set[str] = set()
        self._wire = wire or TableWire(service.url, service.credential, **CLIENT_OPTIONS)

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
        if "transport" not in options:
            options["transport"] = _transport()
        if connection_string:
            service = TableServiceClient.from_connection_string(connection_string, **options)
        else:
            from azure.identity import DefaultAzureCredential

            assert endpoint is not None
            credential = options.pop("credential", None) or DefaultAzureCredential()
            service = TableServiceClient(endpoint=endpoint, credential=credential, **options)
        # The same endpoint, credential, transport, retries and timeouts as the SDK client.
        wire = TableWire(service.url, service.credential, **options)
        return cls(service, prefix, wire=wire)

    # ---- tables -------------------------------------------------------------------------------

    def table(self, base: str) -> str:
        return f"{self._prefix}{base}"

    def ensure_table(self, name: str) -> None:
        if name in self._known_tables:
            return
        with _service_errors("create_table"):
            self._wire.create_table(name)
        self._known_tables.add(name)

    def list_tables(self, base_prefix: str) -> list[str]:
        """Names of tables that start with prefix+base_prefix (range query on TableName)."""
        low = self.table(base_prefix)
        high = low + "{"  # '{' sorts after every alphanumeric character
        query = filter_with("TableName ge @low and TableName lt @high", {"low": low, "high": high})
        with _service_errors("query_tables"):
            return sorted(self._wire.table_names(query))

    def delete_table(self, name: str) -> None:
        with _service_errors("delete_table"):
            self._wire.delete_table(name)
        self._known_tables.discard(name)

    def ping(self) -> None:
        """Health: one cheap round trip to the table service."""
        with _service_errors("ping"):
            next(self._wire.table_names(top=1), None)

    # ---- entity-group transactions ------------------------------------------------------------

    def write_partition(self, table: str, entities: list[Entity], *, upsert: bool) -> None:
        """Write entities of one partition as one transaction per 100: all or nothing per call.

        Upsert is insert-or-replace (the SDK's UpdateMode.REPLACE); otherwise insert, which fails
        the transaction if a row exists. Creates the table on first use (cached) so the hot path
        costs one transaction.
        """
        kind: Any = "upsert" if upsert else "create"
        operations: list[Operation] = [(kind, e) for e in entities]
        try:
            self._submit(table, operations)
        except _TableMissing:
            self._known_tables.discard(table)
            self.ensure_table(table)
            self._submit(table, operations)

    def write_conditional(self, table: str, entities: list[Entity], marker: Entity, etag: str | None) -> str:
        """Write entities of one partition together with `marker`, a row of that partition that
        the transaction inserts (etag None: fails if it exists) or replaces only if it still has
        `etag`; returns the marker's new ETag. Raises RowChanged, having stored nothing, if the
        condition fails, and TableMissing if the table does not exist. More than 99 entities
        take several transactions, each conditional on the ETag the previous one gave the
        marker."""
        try:
            return self._conditional(table, entities, marker, etag)
        except _TableMissing:
            self._known_tables.discard(table)
            raise TableMissing(table) from None

    def _conditional(self, table: str, entities: list[Entity], marker: Entity, etag: str | None) -> str:
        step = MAX_BATCH - 1
        for i in range(0, max(len(entities), 1), step):
            operations: list[Operation] = [("upsert", e) for e in entities[i : i + step]]
            operations.append(("create", marker) if etag is None else ("update", marker, etag))
            with _service_errors("transaction", conditional=True):
                etag = self._wire.submit(table, operations)[-1]
            if etag is None:
                _unavailable("transaction", TableError(None, "NoETag", "the marker's ETag is missing"))
        assert etag is not None
        return etag

    def get_versioned(self, table: str, partition: str, row: str) -> tuple[Entity, str] | None:
        """A row and its current ETag (None if it or its table does not exist): the read a
        conditional write starts from."""
        with _service_errors("get_entity"):
            return self._wire.get_versioned(table, partition, row)

    def _submit(self, table: str, operations: list[Operation]) -> None:
        """Entity-group transactions of at most 100 operations (callers keep one partition)."""
        for i in range(0, len(operations), MAX_BATCH):
            with _service_errors("transaction"):
                self._wire.submit(table, operations[i : i + MAX_BATCH])

    # ---- reads ---------------------------------------------------------------------------------

    def get(self, table: str, partition: str, row: str) -> Entity | None:
        with _service_errors("get_entity", reading=True):
            return self._wire.get_entity(table, partition, row)

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
        query = filter_with(filter_, parameters)
        try:
            with _service_errors("query", reading=True):
                return [
                    entity_from_json(raw)
                    for page in self._wire.pages(table, filter_=query, select=select)
                    for raw in page
                ]
        except _Absent:
            return []

    def scan(self, table: str, *, select: list[str] | None = None) -> Iterable[Entity]:
        """Every entity of a table, page by page (aggregation and tests only)."""
        try:
            with _service_errors("scan", reading=True):
                for page in self._wire.pages(table, select=select, top=PAGE_SIZE):
                    for raw in page:
                        yield entity_from_json(raw)
        except _Absent:
            return

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Every entity of a table projected on `columns` (server-side `$select`), one tuple per
        entity in column order, None where absent, valued as `scan` values them: the lean read
        for whole-table passes such as the aggregation (no dict per entity)."""
        typed = [f"{column}@odata.type" for column in columns]
        try:
            with _service_errors("scan", reading=True):
                for page in self._wire.pages(table, select=columns, top=PAGE_SIZE, prefetch=True):
                    for raw in page:
                        yield _row(raw, columns, typed)
        except _Absent:
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

    @property
    def service(self) -> TableServiceClient:
        """The SDK client, for the benchmark's raw-SDK baseline and for tests only."""
        return self._service
