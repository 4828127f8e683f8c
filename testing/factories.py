"""Test and benchmark data (testing kit): raw events as storage keeps them, with plausible defaults."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.storage.events import StoredEvent


def stored_event(moment: datetime, **fields: Any) -> StoredEvent:
    """One stored event at `moment` (received and client time); callers override what they vary."""
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "name": "app.launch",
        "session_id": str(uuid.uuid4()),
        "received": moment,
        "ts": moment,
        "app": "workspace",
        "page": "/home",
        "tenant_ref": "tabc",
        "user_type": "basic_user",
        "pseudonym": 2**62 + 5,
        "salt_version": "v1",
    }
    values.update(fields)
    return StoredEvent(**values)
