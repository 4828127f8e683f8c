"""The quick version of `make stress`: a few clients for a few seconds over real sockets, 0 errors."""

from __future__ import annotations

import pytest

from bench.load import run

pytestmark = pytest.mark.system


def test_short_load_has_no_server_errors_and_loses_nothing():
    result = run(clients=4, seconds=4)
    assert result["requests"] > 10
    assert result["server_errors"] == 0, result["statuses"]
    assert set(result["statuses"]) == {"202"}
    assert result["accepted_events"] > 0
    assert result["accepted_events_missing_from_storage"] == 0
