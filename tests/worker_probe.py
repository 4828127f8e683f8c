"""Start Azure's Python worker runtime on an app directory the way the proxy worker does, in its own process.

Usage: python -m tests.worker_probe APP_DIR  (run with APP_DIR as the working directory)

From Python 3.13 the worker that Azure runs is the `azure-functions-runtime` package pinned in
requirements.txt ("runtime versioning"); the host's proxy worker only relays gRPC messages to it.
At start-up the proxy worker calls `worker_init_request` (which indexes `function_app.py` with
`index_function_app`, validates every function's bindings in the runtime's `Registry` via
`process_indexed_function`, and fails the start on any exception such as `FunctionLoadError`),
then `functions_metadata_request` to hand the indexed functions to the host. This script makes
exactly those two calls and prints the outcome as JSON on stdout.

The one stand-in is `protos`: in Azure the proxy worker passes its generated protobuf module
(FunctionRpc.proto); that module is not published on PyPI, so `Protos` below provides the message
constructors the runtime calls, recording their fields, with the enum numbers of FunctionRpc.proto
(BindingInfo.Direction in=0 out=1 inout=2, DataType undefined=0 ..., StatusResult Failure=0
Success=1 Cancelled=2).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class _Message:
    """A protobuf message as the runtime uses it: keyword fields in, attributes out."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class BindingInfo(_Message):
    out = 1
    inout = 2
    undefined = 0
    string = 1
    binary = 2
    stream = 3


setattr(BindingInfo, "in", 0)  # `in` is a Python keyword; the generated protobuf class sets it alike


class StatusResult(_Message):
    Failure = 0
    Success = 1
    Cancelled = 2


class Protos:
    """The subset of the proxy worker's protobuf module that start-up and indexing touch."""

    BindingInfo = BindingInfo
    StatusResult = StatusResult

    class WorkerInitResponse(_Message):
        pass

    class FunctionMetadataResponse(_Message):
        pass

    class RpcFunctionMetadata(_Message):
        pass

    class RpcRetryOptions(_Message):
        pass

    class RpcException(_Message):
        pass

    class WorkerMetadata(_Message):
        pass


def _value(value: Any) -> Any:
    """Enum members (BindingDirection, DataType) as the number the protobuf field would hold."""
    return getattr(value, "value", value)


def start(app_dir: Path) -> dict[str, Any]:
    import azure_functions_runtime as runtime  # the worker runtime pinned in requirements.txt

    init = SimpleNamespace(
        request=SimpleNamespace(
            worker_init_request=SimpleNamespace(capabilities={}, function_app_directory=str(app_dir))
        ),
        properties={"host": "127.0.0.1", "protos": Protos},
    )
    response = asyncio.run(runtime.worker_init_request(init))
    if response.result.status != StatusResult.Success:
        return {"status": "Failure", "message": response.result.exception.message}
    metadata = asyncio.run(runtime.functions_metadata_request(SimpleNamespace()))
    functions = []
    for function in metadata.function_metadata_results or []:
        functions.append(
            {
                "name": function.name,
                "entry_point": function.entry_point,
                "script_file": function.script_file,
                "directory": function.directory,
                "bindings": {
                    name: {"type": info.type, "direction": _value(info.direction)}
                    for name, info in function.bindings.items()
                },
                "raw_bindings": [json.loads(raw) for raw in function.raw_bindings],
                "properties": dict(function.properties),
            }
        )
    return {"status": "Success", "functions": functions}


if __name__ == "__main__":
    app = Path(sys.argv[1]).resolve()
    sys.path.insert(0, str(app))  # the worker imports function_app from the app root
    print(json.dumps(start(app)))
