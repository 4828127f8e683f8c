"""The storage core: the Table client, transactions, error mapping and period keys.

Every table family (`events`, `consent`, `aggregates`, `audit`, `salt_usage`, one module each in
this package) owns its table names, keys and columns and reaches the service only through the
generic methods of `Storage` below; the core knows no table of its own. docs/storage.md has the
layout, the reasoning and the numbers.

Failures of the service (unreachable, throttled, 5xx, auth) become StorageUnavailable → 503.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any, NoReturn

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import EdmType, EntityProperty, TableServiceClient, UpdateMode

from shared.errors import StorageUnavailable
from shared.logs import log

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


class _TableMissing(Exception):
    """The table does not exist yet (a transaction reports this as 404 TableNotFound)."""


class Storage:
    """Generic access to one storage account: the table families build on these methods only."""

    def __init__(self, service: TableServiceClient, prefix: str = "") -> None:
        self._service = service
        self._prefix = prefix
        self._known_tables: set[str] = set()

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

    @property
    def service(self) -> TableServiceClient:
        """The SDK client, for the benchmark's raw-SDK baseline and for tests only."""
        return self._service
