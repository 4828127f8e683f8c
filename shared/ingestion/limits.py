"""Abuse limit: how many events one principal may send per minute.

A token bucket per principal holds up to `EVENTS_PER_MINUTE` events and refills at that rate, so
a burst of one full minute is allowed and a steady sender is held to the rate. A batch that does
not fit is refused whole with 429 and `Retry-After` (the seconds until it would fit); nothing of
it is stored, and a client re-sends it later with the same event ids.

The buckets live in the memory of one instance (no storage round trip on the hot path): with N
instances a principal can send up to N times the limit. That is the documented bound; the limit
guards storage cost and the aggregates against a runaway or hostile client, not a billing quota.
Buckets are keyed by a keyed hash, under a per-process random key, of the person exactly as the
pseudonyms key them (`subject_of`: ids in any case are one person, with one consent record and
so one allowance), so the process holds no raw identifier beyond the request, and nothing here is
logged or stored.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable

from shared.kernel.errors import TooManyRequests
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import subject_of

MAX_TRACKED = 50_000
"""Bound on buckets kept; idle (full) buckets are forgotten first."""


class EventRateLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._key = secrets.token_bytes(16)
        self._buckets: dict[bytes, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _principal_key(self, principal: Principal) -> bytes:
        raw = subject_of(principal.tenant_id, principal.user_id).encode()
        return hashlib.blake2b(raw, key=self._key, digest_size=16).digest()

    def charge(self, principal: Principal, count: int) -> None:
        """Take `count` events from the caller's allowance, or raise TooManyRequests (429)."""
        key = self._principal_key(principal)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self._rate)
            if tokens < count:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((count - tokens) / self._rate))
                raise TooManyRequests(
                    f"more than {self.per_minute} events per minute; retry after {wait} s",
                    retry_after_seconds=wait,
                )
            self._buckets[key] = (tokens - count, now)
            if len(self._buckets) > MAX_TRACKED:
                self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled (they hold no state worth keeping), then the oldest."""
        full_after = 60.0
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        if len(self._buckets) > MAX_TRACKED:
            newest = sorted(self._buckets.items(), key=lambda item: item[1][1])[-MAX_TRACKED // 2 :]
            self._buckets = dict(newest)
