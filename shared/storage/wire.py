"""The Table service's REST wire format, written and read by the project.

Why: the Azure Tables SDK spends ~1 ms of Python CPU per entity building and parsing the multipart
`$batch` body with the stdlib `email` package, six times our whole ingestion path; its entity
deserialiser costs about as much per row on the aggregation's scans. Everything else the SDK gives
us stays the same: every request goes through azure-core's pipeline with the public policies
(`RetryPolicy` with the core's retry settings, `BearerTokenCredentialPolicy` for the managed
identity in Azure, a SAS, or a Shared Key Lite signature for Azurite's well-known development key)
and the same `RequestsTransport`. Only the bodies and the parsing of responses are ours, and they
follow what azure-data-tables 12.7 sends and returns (its `_table_batch.py`, `_serialize.py`,
`_deserialize.py` and `_base_client.py`):

* the same headers: `x-ms-version: 2019-02-02`, `DataServiceVersion: 3.0`,
  `MaxDataServiceVersion: 3.0;NetFx` on `$batch`, JSON with `odata=minimalmetadata` on reads;
* the same EDM typing on writes (`entity_json`): strings and booleans as JSON, Python ints only
  within Int32 (larger ones must be typed Int64, as the SDK demands), `Edm.Int64` as a decimal
  string, `Edm.DateTime` as UTC ISO 8601 with microseconds and `Z`, `Edm.Double` (NaN and
  infinities as strings), `Edm.Guid`, `Edm.Binary` (base64); `None` values are left out;
* the same values on reads (`entity_from_json`): Int64 and Int32 as `int`, DateTime as an aware UTC
  `datetime`, Double as `float`, Guid as `UUID`, Binary as `bytes`; `Timestamp` and the `odata.*`
  metadata are not part of the entity (the SDK keeps them apart as metadata too).

A `$batch` is one changeset of at most 100 operations on one partition and < 4 MiB, all or nothing:
any failed operation fails the whole changeset and the service stores none of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from json.encoder import encode_basestring_ascii
from typing import Any, Literal, NamedTuple
from urllib.parse import quote, urlsplit
from wsgiref.handlers import format_date_time

from azure.core import PipelineClient
from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential, TokenCredential
from azure.core.pipeline import Pipeline, PipelineRequest
from azure.core.pipeline.policies import (
    AzureSasCredentialPolicy,
    BearerTokenCredentialPolicy,
    HTTPPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.data.tables import EdmType, EntityProperty

Entity = dict[str, Any]
OperationKind = Literal["upsert", "create", "delete"]
Operation = tuple[OperationKind, Mapping[str, Any]] | tuple[Literal["update"], Mapping[str, Any], str]
"""(kind, entity), or ("update", entity, ETag): replace the entity only if it still has that ETag
(`If-Match`), so a transaction fails with 412 if anyone changed the row since it was read, and
with 404 if it is gone."""

API_VERSION = "2019-02-02"
"""The service version azure-data-tables 12.7 sends."""
STORAGE_SCOPE = "https://storage.azure.com/.default"
MAX_OPERATIONS = 100
MAX_BATCH_BYTES = 4 * 1024 * 1024
"""A changeset holds at most 100 operations, and the whole request is less than 4 MiB."""
PAGE_SIZE = 1000
"""The service's largest page of a query."""

MINIMAL_METADATA = "application/json;odata=minimalmetadata"
_INT32 = 2**31
_INT64 = 2**63
_TYPE_SUFFIX = "@odata.type"
_JSON = json.JSONEncoder(separators=(",", ":")).encode
"""ASCII-only output (non-ASCII and lone surrogates as \\u escapes), so a body's length in
characters is its length in bytes, and any Python string survives the trip."""
_STRING = encode_basestring_ascii
"""The very function `_JSON` encodes a string with (keys and values alike)."""


class TableError(Exception):
    """The service refused a request: HTTP status and the service's error code (no body text)."""

    def __init__(self, status: int | None, code: str | None, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}" if message else f"{status} {code}")
        self.status = status
        self.code = code


# ---- entities on the wire -----------------------------------------------------------------------


def datetime_text(value: datetime) -> str:
    """UTC ISO 8601 with microseconds and `Z`, as the SDK writes it (a naive value is local time,
    as `astimezone` reads it); zero-padded for years before 1000 (the SDK's strftime is not)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_datetime(value: str) -> datetime:
    """`YYYY-MM-DDTHH:MM:SS[.fffffff]Z` → aware UTC datetime; digits past microseconds are dropped
    (truncated, as the SDK does), fewer are right-padded (`.1` is 100,000 µs)."""
    if len(value) >= 20 and value[-1] == "Z" and value[4] == "-" and value[10] == "T":
        micro = 0
        if value[19] == ".":
            micro = int(value[20:-1][:6].ljust(6, "0"))
        elif len(value) != 20:
            raise ValueError(f"not a service datetime: {value!r}")
        return datetime(
            int(value[0:4]),
            int(value[5:7]),
            int(value[8:10]),
            int(value[11:13]),
            int(value[14:16]),
            int(value[17:19]),
            micro,
            tzinfo=UTC,
        )
    raise ValueError(f"not a service datetime: {value!r}")


def _double(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if math.isnan(value):
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


def _int32(value: Any) -> int:
    number = int(value)
    if not -_INT32 <= number < _INT32:
        raise TypeError(f"{value} is too large to be cast to type Edm.Int32.")
    return number


def _int64(value: Any) -> str:
    if not -_INT64 <= int(value) < _INT64:
        raise TypeError(f"{value} is too large to be cast to type Edm.Int64.")
    return str(value)


def _binary(value: Any) -> str:
    return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()


def _typed(value: Any, edm: str) -> tuple[Any, str]:
    """An explicitly typed value (`EntityProperty(value, EdmType)` or a `(value, "Edm.X")` tuple):
    the SDK always writes the type annotation for these."""
    if edm == "Edm.Int64":
        return _int64(value), edm
    if edm == "Edm.DateTime":
        return (value if isinstance(value, str) else datetime_text(value)), edm
    if edm == "Edm.Int32":
        return _int32(value), edm
    if edm == "Edm.String":
        return str(value), edm
    if edm == "Edm.Boolean":
        return value, edm
    if edm == "Edm.Double":
        return _double(value), edm
    if edm == "Edm.Guid":
        return str(value), edm
    if edm == "Edm.Binary":
        return _binary(value), edm
    raise ValueError(f"{edm!r} is not a valid EdmType")


def entity_properties(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object of one entity, typed as the SDK's `_add_entity_properties` types it."""
    out: dict[str, Any] = {}
    for name, value in entity.items():
        kind = type(value)
        if kind is str or kind is bool:
            out[name] = value
        elif value is None:
            continue
        elif kind is int:
            out[name] = _int32(value)
        elif isinstance(value, datetime):
            out[name] = datetime_text(value)
            out[name + _TYPE_SUFFIX] = "Edm.DateTime"
        elif isinstance(value, tuple):
            if value[0] is None:
                continue
            edm = value[1]
            out[name], out[name + _TYPE_SUFFIX] = _typed(value[0], str(getattr(edm, "value", edm)))
        elif kind is float:
            out[name] = _double(value)
            out[name + _TYPE_SUFFIX] = "Edm.Double"
        elif isinstance(value, Enum):
            out[name] = str(value)
        elif isinstance(value, uuid.UUID):
            out[name] = str(value)
            out[name + _TYPE_SUFFIX] = "Edm.Guid"
        elif kind is bytes:
            out[name] = _binary(value)
            out[name + _TYPE_SUFFIX] = "Edm.Binary"
        else:
            raise TypeError(f"Type not supported when sending the entity to the service: {kind}.")
    return out


_NAMES: dict[str, tuple[str, str]] = {}
"""Property name → its encoded `"name":` and `,"name@odata.type":`, so the few names the project
writes are JSON-escaped once per process; bounded by `_MAX_NAMES` (odd names are encoded anew)."""
_MAX_NAMES = 4096
_INT64_EDM = EdmType.INT64


def _name(name: Any) -> tuple[str, str] | None:
    """The encoded key fragments of a property name, or None where only the generic path gives
    the service's exact body: a non-string name (JSON turns it into text) or one that ends in
    `@odata.type` (it could collide with another property's annotation in the generic dict)."""
    if type(name) is not str or name.endswith(_TYPE_SUFFIX):
        return None
    encoded = (f"{_STRING(name)}:", f",{_STRING(name + _TYPE_SUFFIX)}:")
    if len(_NAMES) < _MAX_NAMES:
        _NAMES[name] = encoded
    return encoded


def entity_json(entity: Mapping[str, Any]) -> str:
    """`entity_properties(entity)` as compact ASCII JSON, byte for byte (tests/test_wire.py
    compares both on random entities)."""
    return _entity_json(entity, {})


def _entity_json(entity: Mapping[str, Any], memo: dict[int, str]) -> str:
    """`entity_json`, built as text directly for the types the project writes (str, bool, Int32
    int, datetime, Int64 `EntityProperty`) with no intermediate dict: the `$batch` body of an
    ingestion request is mostly this. Any other value is typed by `entity_properties` itself and
    encoded on its own; an unusual name sends the whole entity down the generic path.

    `memo` maps `id(value)` → its encoded text for datetimes and Int64s, for one `$batch` body:
    every entity of a request carries the very same `received` datetime and one user's Int64
    pseudonym object, so each is formatted once per request instead of once per event (~1 µs
    each). By identity, not equality (equal naive datetimes can differ in `fold`); the entities
    hold their values for the whole call, so no id is reused while the memo lives."""
    fragments: list[str] = []
    append = fragments.append
    for name, value in entity.items():
        keys = _NAMES.get(name) or _name(name)
        if keys is None:
            return _JSON(entity_properties(entity))
        kind = type(value)
        if kind is str:
            append(keys[0] + _STRING(value))
        elif kind is bool:
            append(keys[0] + ("true" if value else "false"))
        elif value is None:
            continue
        elif kind is int:
            append(f"{keys[0]}{_int32(value)}")
        elif kind is datetime:
            text = memo.get(id(value))
            if text is None:
                text = memo[id(value)] = f'"{datetime_text(value)}"'
            append(f'{keys[0]}{text}{keys[1]}"Edm.DateTime"')
        elif (kind is EntityProperty or kind is tuple) and value[0] is not None and value[1] is _INT64_EDM:
            text = memo.get(id(value))
            if text is None:
                text = memo[id(value)] = _STRING(_int64(value[0]))
            append(f'{keys[0]}{text}{keys[1]}"Edm.Int64"')
        else:
            typed = _JSON(entity_properties({name: value}))
            if typed != "{}":
                append(typed[1:-1])
    return "{" + ",".join(fragments) + "}"


def _from_edm(edm: str, value: Any) -> Any:
    if value is None:
        return None
    if edm == "Edm.Int64":
        return int(value)
    if edm == "Edm.DateTime":
        return parse_datetime(value)
    if edm == "Edm.Double":
        return float(value)
    if edm == "Edm.Guid":
        return uuid.UUID(value)
    if edm == "Edm.Binary":
        return base64.b64decode(value)
    return value


def entity_from_json(raw: Mapping[str, Any]) -> Entity:
    """One entity of a response, valued as the SDK returns it once unwrapped (`EntityProperty` →
    its value): see the module docstring."""
    entity: Entity = {}
    types: list[tuple[str, str]] | None = None
    for name, value in raw.items():
        if name.endswith(_TYPE_SUFFIX):
            if types is None:
                types = []
            types.append((name[:-11], value))
        elif name.startswith("odata.") or name == "Timestamp":
            continue
        else:
            entity[name] = value
    if types is not None:
        for name, edm in types:
            if name in entity:
                entity[name] = _from_edm(edm, entity[name])
    return entity


def row_from_json(raw: Mapping[str, Any], columns: Sequence[str], typed: Sequence[str]) -> tuple[Any, ...]:
    """The projection of one entity on `columns` (None where absent), valued as `entity_from_json`
    values them; `typed` is each column's `<column>@odata.type` key."""
    out = []
    for column, type_key in zip(columns, typed, strict=True):
        value = raw.get(column)
        if value is not None and type(value) is str:
            edm = raw.get(type_key)
            if edm is not None:
                value = _from_edm(edm, value)
        out.append(value)
    return tuple(out)


def filter_with(filter_: str, parameters: Mapping[str, Any] | None) -> str:
    """`@name` placeholders replaced by OData literals, as the SDK's `_parameter_filter_substitution`
    does: strings quoted with `'` doubled, large ints with `L`, datetimes, GUIDs, binary."""
    if not parameters:
        return filter_
    words = filter_.split(" ")
    for index, word in enumerate(words):
        if not word.startswith("@"):
            continue
        value = parameters[word[1:]]
        if value is True or value is False:
            words[index] = str(value).lower()
        elif isinstance(value, float):
            words[index] = str(value)
        elif isinstance(value, int):
            words[index] = str(value) if value.bit_length() <= 32 else f"{value}L"
        elif isinstance(value, datetime):
            words[index] = f"datetime'{datetime_text(value)}'"
        elif isinstance(value, uuid.UUID):
            words[index] = f"guid'{value}'"
        elif isinstance(value, bytes):
            words[index] = f"X'{value.hex()}'"
        else:
            escaped = str(value).replace("'", "''")
            words[index] = f"'{escaped}'"
    return " ".join(words)


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*\Z").match


def _key(value: Any) -> str:
    """A key inside an entity URL: `'` doubled, then percent-encoded as the SDK does."""
    if not isinstance(value, str):
        raise TypeError("PartitionKey or RowKey must be of type string.")
    if _UNRESERVED(value):
        return value
    return quote(value.replace("'", "''"), safe="")


def entity_path(table: str, partition: str, row: str) -> str:
    return f"/{table}(PartitionKey='{_key(partition)}',RowKey='{_key(row)}')"


# ---- $batch ------------------------------------------------------------------------------------

_PART = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: "
_WRITE_HEADERS = (
    f"Content-Type: application/json\r\nAccept: {MINIMAL_METADATA}\r\nDataServiceVersion: 3.0\r\n"
)


def batch_body(base_url: str, table: str, operations: Sequence[Operation]) -> tuple[str, bytes]:
    """(Content-Type, body) of one `$batch` holding one changeset of `operations`, built as the
    SDK's `_batch_send` builds it: upsert = PUT without If-Match (insert or replace), create = POST
    (insert; 409 if the row exists), delete = DELETE with `If-Match: *`; and update = PUT with
    `If-Match: <ETag>` (replace; 412 if the row changed, 404 if it is gone)."""
    if not operations:
        raise ValueError("a transaction needs at least one operation")
    if len(operations) > MAX_OPERATIONS:
        raise ValueError(f"a transaction holds at most {MAX_OPERATIONS} operations")
    batch = f"batch_{uuid.uuid4()}"
    changeset = f"changeset_{uuid.uuid4()}"
    delimiter = f"--{changeset}\r\n{_PART}"
    target = f"{base_url}/{table}"
    parts = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"]
    partition: str | None = None
    entity_url: str | None = None  # `<base>/<table>(PartitionKey='…',RowKey='`: the partition is quoted once
    memo: dict[int, str] = {}  # values shared by the entities (see _entity_json)
    for index, operation in enumerate(operations):
        kind, entity = operation[0], operation[1]
        if "PartitionKey" not in entity or "RowKey" not in entity:
            raise ValueError("PartitionKey and/or RowKey were not provided in entity")
        key = entity["PartitionKey"]
        if partition is None:
            partition = key
        elif key != partition:
            raise ValueError("Partition Keys in the batch must all be the same.")
        if kind == "upsert" or len(operation) == 3:  # an update replaces only on its ETag
            if entity_url is None:
                entity_url = f"{base_url}/{table}(PartitionKey='{_key(key)}',RowKey='"
            row = _key(entity["RowKey"])
            body = _entity_json(entity, memo)
            condition = f"If-Match: {operation[2]}\r\n" if len(operation) == 3 else ""
            parts.append(
                f"{delimiter}{index}\r\n\r\nPUT {entity_url}{row}') HTTP/1.1\r\n{_WRITE_HEADERS}"
                f"{condition}Content-Length: {len(body)}\r\n\r\n{body}\r\n"
            )
        elif kind == "create":
            body = _entity_json(entity, memo)
            parts.append(
                f"{delimiter}{index}\r\n\r\nPOST {target} HTTP/1.1\r\n{_WRITE_HEADERS}"
                f"Prefer: return-no-content\r\nContent-Length: {len(body)}\r\n\r\n{body}\r\n"
            )
        elif kind == "delete":
            path = entity_path(table, key, entity["RowKey"])
            parts.append(
                f"{delimiter}{index}\r\n\r\nDELETE {base_url}{path} HTTP/1.1\r\n"
                f"Accept: {MINIMAL_METADATA}\r\nDataServiceVersion: 3.0\r\nIf-Match: *\r\n\r\n\r\n"
            )
        else:
            raise ValueError(f"Unrecognized operation: {kind}")
    parts.append(f"--{changeset}--\r\n\r\n--{batch}--\r\n")
    return f"multipart/mixed; boundary={batch}", "".join(parts).encode()


_BOUNDARY = re.compile(r'boundary="?([^";\r\n]+)"?', re.IGNORECASE)
_STATUS = re.compile(r"HTTP/1\.[01] (\d{3})")


def _parts(text: str, boundary: str) -> list[str]:
    """The bodies of a multipart text between `--boundary` lines (preamble and epilogue dropped)."""
    delimiter = f"--{boundary}"
    chunks = text.split(delimiter)[1:]
    return [chunk for chunk in chunks if not chunk.startswith("--")]


class BatchResult(NamedTuple):
    status: int
    etag: str | None
    """The row's new ETag after a successful write (None for deletes and failures)."""
    body: bytes


_ETAG = re.compile(r"^ETag:[ \t]*(\S[^\r\n]*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def batch_results(content_type: str, body: bytes) -> list[BatchResult]:
    """Status, ETag and body of each operation's response in a `$batch` response, in the
    changeset's order (for a failed changeset the service returns only the failing operation's
    response)."""
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise TableError(None, "UnexpectedBatchResponse", "no multipart boundary")
    text = body.decode("utf-8", errors="replace")
    results = []
    for part in _parts(text, match.group(1)):
        headers, _, rest = part.partition("\r\n\r\n")
        inner = _BOUNDARY.search(headers)
        if inner is not None and "multipart/mixed" in headers.lower():
            responses = [r.partition("\r\n\r\n")[2] for r in _parts(rest, inner.group(1))]
        else:
            responses = [rest]
        for response in responses:
            status = _STATUS.match(response)
            if status is None:
                raise TableError(None, "UnexpectedBatchResponse", "no status line")
            head, _, payload = response.partition("\r\n\r\n")
            etag = _ETAG.search(head)
            results.append(
                BatchResult(
                    int(status.group(1)),
                    None if etag is None else etag.group(1),
                    payload.rstrip("\r\n").encode(),
                )
            )
    return results


def error_of(status: int | None, body: bytes) -> TableError:
    """The service's error code from an `odata.error` JSON body (none for HEAD/empty bodies)."""
    code = None
    try:
        error = json.loads(body)["odata.error"]
        code = error.get("code")
        message = str(error.get("message", {}).get("value", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        message = ""
    return TableError(status, code, message.split("\n", 1)[0])


# ---- the pipeline ------------------------------------------------------------------------------


class _StorageDate(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """`x-ms-date` (and `Date`) on every attempt, after the retry policy, so a retried request is
    signed with a fresh date; and a client request id for the service's logs (as the SDK's
    RequestIdPolicy, but uuid4: uuid1 costs a clock syscall per request)."""

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        now = format_date_time(time.time())
        headers = request.http_request.headers
        headers["x-ms-date"] = now
        headers["Date"] = now
        headers.setdefault("x-ms-client-request-id", str(uuid.uuid4()))


class SharedKeyLitePolicy(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Shared Key Lite for the Table service: HMAC-SHA256 over `Date\\n/<account><path>[?comp=…]`.

    Locally only: Azurite's connection string carries its well-known development key. In Azure the
    app authenticates with its managed identity (`BearerTokenCredentialPolicy`), never a key."""

    def __init__(self, credential: AzureNamedKeyCredential) -> None:
        super().__init__()
        self._credential = credential

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        http = request.http_request
        name, key = self._credential.named_key
        url = urlsplit(http.url)
        resource = f"/{name}{url.path}"
        comp = re.search(r"(?:^|&)comp=([^&]*)", url.query)
        if comp is not None:
            resource += f"?comp={comp.group(1)}"
        date = http.headers.get("x-ms-date") or http.headers["Date"]
        http.headers["Authorization"] = shared_key_lite(name, key, date, resource)


def shared_key_lite(account: str, key: str, date: str, resource: str) -> str:
    """The `Authorization` value: HMAC-SHA256 of `date\nresource` under the account's base64 key."""
    digest = hmac.new(base64.b64decode(key), f"{date}\n{resource}".encode(), hashlib.sha256).digest()
    return f"SharedKeyLite {account}:{base64.b64encode(digest).decode()}"


def credential_policy(
    credential: Any,
) -> SansIOHTTPPolicy[HttpRequest, HttpResponse] | HTTPPolicy[HttpRequest, HttpResponse]:
    """The policy for whichever credential the SDK client was built with."""
    if isinstance(credential, AzureNamedKeyCredential):
        return SharedKeyLitePolicy(credential)
    if isinstance(credential, AzureSasCredential):
        return AzureSasCredentialPolicy(credential)
    if hasattr(credential, "get_token"):
        token: TokenCredential = credential
        return BearerTokenCredentialPolicy(token, STORAGE_SCOPE)
    raise ValueError("a Table client needs a key, SAS or token credential")


RETRY_OPTIONS = ("retry_total", "retry_backoff_factor", "retry_backoff_max", "retry_mode")
TIMEOUT_OPTIONS = ("connection_timeout", "read_timeout")


class TableWire:
    """One storage account's Table endpoint over one azure-core pipeline."""

    def __init__(
        self,
        endpoint: str,
        credential: Any,
        *,
        transport: HttpTransport[HttpRequest, HttpResponse] | None = None,
        **options: Any,
    ) -> None:
        parts = urlsplit(endpoint)
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        if credential is None and parts.query:  # a SAS in the endpoint itself
            credential = AzureSasCredential(parts.query)
        self._timeouts = {k: options[k] for k in TIMEOUT_OPTIONS if k in options}
        policies: list[Any] = [
            UserAgentPolicy(sdk_moniker="cetegra-analytics-tables"),
            RetryPolicy(**{k: options[k] for k in RETRY_OPTIONS if k in options}),
            _StorageDate(),
            credential_policy(credential),
        ]
        pipeline: Pipeline[HttpRequest, HttpResponse] = Pipeline(
            transport or RequestsTransport(use_env_settings=False), policies
        )
        self._client: PipelineClient[HttpRequest, HttpResponse] = PipelineClient(
            self.base_url, pipeline=pipeline
        )

    def send(
        self, method: str, path: str, *, headers: dict[str, str], content: bytes | None = None
    ) -> HttpResponse:
        request = HttpRequest(method, self.base_url + path, headers=headers, content=content)
        response = self._client.send_request(request, **self._timeouts)
        response.read()
        return response

    # ---- entities ------------------------------------------------------------------------------

    def submit(self, table: str, operations: Sequence[Operation]) -> list[str | None]:
        """One entity-group transaction: every operation is applied, or none (TableError).
        Returns each operation's new ETag (None for a delete).

        A single operation is sent as that entity operation itself (Insert Or Replace, Insert,
        Delete, Update): as atomic as a one-operation changeset, one request just the same, and
        the service answers without a multipart body to parse."""
        if len(operations) == 1:
            return [self._single(table, operations[0])]
        content_type, body = batch_body(self.base_url, table, operations)
        if len(body) >= MAX_BATCH_BYTES:
            raise TableError(413, "RequestBodyTooLarge", f"{len(body)} bytes in one transaction")
        response = self.send(
            "POST",
            "/$batch",
            headers={
                "x-ms-version": API_VERSION,
                "DataServiceVersion": "3.0",
                "MaxDataServiceVersion": "3.0;NetFx",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
            content=body,
        )
        if response.status_code != 202:
            raise error_of(response.status_code, response.content)
        results = batch_results(response.headers.get("Content-Type", ""), response.content)
        for result in results:
            if not 200 <= result.status < 300:
                raise error_of(result.status, result.body)
        if len(results) != len(operations):
            raise TableError(202, "UnexpectedBatchResponse", f"{len(results)} of {len(operations)} results")
        return [result.etag for result in results]

    def _single(self, table: str, operation: Operation) -> str | None:
        kind, entity = operation[0], operation[1]
        if "PartitionKey" not in entity or "RowKey" not in entity:
            raise ValueError("PartitionKey and/or RowKey were not provided in entity")
        if kind == "delete":
            path = entity_path(table, entity["PartitionKey"], entity["RowKey"])
            response = self.send("DELETE", path, headers={**_READ, "If-Match": "*"})
        elif kind == "upsert" or len(operation) == 3:
            path = entity_path(table, entity["PartitionKey"], entity["RowKey"])
            headers = {**_WRITE, "If-Match": operation[2]} if len(operation) == 3 else _WRITE
            response = self.send("PUT", path, headers=headers, content=entity_json(entity).encode())
        elif kind == "create":
            headers = {**_WRITE, "Prefer": "return-no-content"}
            response = self.send("POST", f"/{table}", headers=headers, content=entity_json(entity).encode())
        else:
            raise ValueError(f"Unrecognized operation: {kind}")
        if response.status_code not in (201, 204):
            raise error_of(response.status_code, response.content)
        return None if kind == "delete" else response.headers.get("ETag")

    def get_entity(self, table: str, partition: str, row: str) -> Entity | None:
        """The point read (None if the entity or its table does not exist)."""
        found = self._point_read(table, partition, row)
        return None if found is None else entity_from_json(found[0])

    def get_versioned(self, table: str, partition: str, row: str) -> tuple[Entity, str] | None:
        """The point read with the row's current ETag (None if the entity or its table does not
        exist): what a conditional write starts from."""
        found = self._point_read(table, partition, row)
        if found is None:
            return None
        raw, etag = found
        if not etag:
            raise TableError(200, "NoETag", "the read returned no ETag")
        return entity_from_json(raw), etag

    def _point_read(self, table: str, partition: str, row: str) -> tuple[dict[str, Any], str | None] | None:
        """The entity's raw JSON and its ETag (header, else the `odata.etag` annotation), or None
        on 404."""
        response = self.send("GET", entity_path(table, partition, row), headers=_READ)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise error_of(response.status_code, response.content)
        raw = json.loads(response.content)
        return raw, response.headers.get("ETag") or raw.get("odata.etag")

    def pages(
        self,
        table: str,
        *,
        filter_: str | None = None,
        select: Sequence[str] | None = None,
        top: int | None = None,
        prefetch: bool = False,
    ) -> Iterator[list[dict[str, Any]]]:
        """The raw JSON entities of a query, page by page, following the continuation headers
        (`x-ms-continuation-NextPartitionKey`/`NextRowKey`). A missing table is TableError 404.

        With `prefetch`, a helper thread fetches the next page while the caller works on this one
        (at most two pages ahead), so the service's time and ours overlap on a long scan."""
        query = []
        if filter_:
            query.append(f"$filter={quote(filter_, safe='')}")
        if select:
            query.append(f"$select={quote(','.join(select), safe='')}")
        if top:
            query.append(f"$top={top}")
        bodies = self._bodies(f"/{table}()", query)
        if prefetch:
            bodies = _ahead(bodies)
        for body in bodies:
            yield json.loads(body)["value"]

    def _bodies(self, path: str, query: list[str]) -> Iterator[bytes]:
        continuation: list[str] = []
        while True:
            params = "&".join(query + continuation)
            response = self.send("GET", f"{path}?{params}" if params else path, headers=_READ)
            if response.status_code != 200:
                raise error_of(response.status_code, response.content)
            next_partition = response.headers.get("x-ms-continuation-NextPartitionKey")
            next_row = response.headers.get("x-ms-continuation-NextRowKey")
            yield response.content
            if not next_partition:
                return
            continuation = [f"NextPartitionKey={quote(next_partition, safe='')}"]
            if next_row:
                continuation.append(f"NextRowKey={quote(next_row, safe='')}")

    # ---- tables --------------------------------------------------------------------------------

    def create_table(self, name: str) -> None:
        """Create the table; one that exists already is fine."""
        response = self.send(
            "POST",
            "/Tables",
            headers={**_READ, "Content-Type": "application/json", "Prefer": "return-no-content"},
            content=_JSON({"TableName": name}).encode(),
        )
        if response.status_code not in (201, 204, 409):
            raise error_of(response.status_code, response.content)

    def delete_table(self, name: str) -> None:
        """Delete the table; one that does not exist is fine."""
        response = self.send("DELETE", f"/Tables('{_key(name)}')", headers=_READ)
        if response.status_code not in (204, 404):
            raise error_of(response.status_code, response.content)

    def table_names(self, filter_: str | None = None, *, top: int | None = None) -> Iterator[str]:
        query = []
        if filter_:
            query.append(f"$filter={quote(filter_, safe='')}")
        if top:
            query.append(f"$top={top}")
        continuation: list[str] = []
        while True:
            params = "&".join(query + continuation)
            response = self.send("GET", f"/Tables?{params}" if params else "/Tables", headers=_READ)
            if response.status_code != 200:
                raise error_of(response.status_code, response.content)
            for table in json.loads(response.content)["value"]:
                yield table["TableName"]
            next_table = response.headers.get("x-ms-continuation-NextTableName")
            if not next_table or top:
                return
            continuation = [f"NextTableName={quote(next_table, safe='')}"]


def _ahead(items: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """`items`, produced by a daemon thread up to `depth` ahead of the consumer; the producer's
    exception is raised in the consumer; closing the consumer stops the producer."""
    buffer: queue.Queue[tuple[bytes | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[bytes | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                buffer.put(entry, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((None, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((None, exc))

    threading.Thread(target=produce, name="tables-prefetch", daemon=True).start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is None:
                return
            yield item
    finally:
        stop.set()


_READ = {"x-ms-version": API_VERSION, "DataServiceVersion": "3.0", "Accept": MINIMAL_METADATA}
_WRITE = {**_READ, "Content-Type": "application/json"}
