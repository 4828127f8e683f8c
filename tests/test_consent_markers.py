"""Consent markers: a worker that knows a user's marker writes their events in one
transaction without reading the consent, and a withdrawal or an erasure made on *another* worker
still stops the very next request. Two workers here are two object graphs (each with its own
storage client and remembered ETags) over one Azurite table prefix, as two Functions instances
over one account."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from shared.ingestion.events import EventBatch
from shared.ingestion.limits import EventRateLimit
from shared.kernel.errors import StorageUnavailable
from shared.kernel.periods import writable_days
from shared.privacy.consent import REVOKE_SLACK, ConsentDecision
from shared.privacy.identity import principal_from_header
from shared.services import Services, build
from shared.storage.core import RowChanged
from shared.storage.events import MARKER, event_partition
from testing.client import POLICY, Client
from testing.principal import principal_header

SESSION = str(uuid.uuid4())


def batch(n: int = 1, ts: str = "2026-11-23T11:59:00Z") -> EventBatch:
    return EventBatch.model_validate_json(
        json.dumps(
            {
                "events": [
                    {
                        "event_id": str(uuid.uuid4()),
                        "name": "nav.page_view",
                        "session_id": SESSION,
                        "ts": ts,
                        "app": "workspace",
                        "page": "/cases",
                    }
                    for _ in range(n)
                ]
            }
        )
    )


class Worker:
    """One Functions instance: its own services over the test's tables, whose writable days'
    tables exist (the retention timer creates each day's tables ahead)."""

    def __init__(self, client: Client, services: Services | None = None) -> None:
        self.client = client
        self.services = services or build(
            client.services.settings, salt_source=client.vault.salt_source(), clock=client.clock
        )
        self.principal = principal_from_header(principal_header(), self.services.settings)
        for day in writable_days(client.clock(), timedelta(hours=24), timedelta(seconds=300)):
            self.services.tables.events.ensure_day(day)

    def send(self, n: int = 1) -> dict[str, int]:
        result = self.services.ingest.accept(self.principal, batch(n), self.client.clock())
        return {"accepted": result.accepted, "dropped": result.dropped}

    def decide(self, status: str) -> None:
        decision = ConsentDecision(status=status, policy_version=POLICY)  # type: ignore[arg-type]
        self.services.consent.decide(self.principal, decision)

    def pseudonym(self) -> int:
        return self.services.pseudonymizer.current(
            self.principal.tenant_id, self.principal.user_id
        ).event_pseudonym


def events_stored(client: Client) -> int:
    """Event rows in the day tables (consent markers are not events)."""
    return sum(
        1
        for name, rows in client.stored().items()
        if "ev2" in name
        for row in rows
        if row["RowKey"] != MARKER
    )


def markers(client: Client) -> list[tuple[str, str]]:
    """(table, partition) of every consent marker stored."""
    return sorted(
        (name, row["PartitionKey"])
        for name, rows in client.stored().items()
        if "ev2" in name
        for row in rows
        if row["RowKey"] == MARKER
    )


class Transactions:
    """Counts the storage calls one worker makes, by method and whether it is a `$batch`."""

    def __init__(self, worker: Worker) -> None:
        self.calls: list[str] = []
        wire = worker.services.storage._wire  # the project's own wire: no SDK private attribute
        send = wire.send

        def counting(method: str, path: str, **kw: Any) -> Any:
            self.calls.append(f"{method} {path.split('(')[0].split('?')[0]}")
            return send(method, path, **kw)

        wire.send = counting  # type: ignore[method-assign]


def test_a_known_marker_makes_a_request_one_transaction_without_a_consent_read(client):
    worker = Worker(client)
    worker.decide("granted")
    calls = Transactions(worker)
    assert worker.send(3) == {"accepted": 3, "dropped": 0}
    first = list(calls.calls)
    assert sum(call.endswith("consent") for call in first) == 1  # the consent read
    calls.calls.clear()
    for _ in range(5):
        assert worker.send(3) == {"accepted": 3, "dropped": 0}
    assert calls.calls == ["POST /$batch"] * 5  # events + marker: one transaction each, nothing read
    assert events_stored(client) == 18
    assert len(markers(client)) == 1


def test_a_granted_marker_spares_another_worker_a_second_consent_read(client):
    """A marker that says `granted` was written after a consent read, and a withdrawal would have
    rewritten it: a worker that reads it writes on its ETag, then on the ETag it gave it."""
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    assert a.send(1)["accepted"] == 1
    calls = Transactions(b)
    assert b.send(1)["accepted"] == 1
    made = [c for c in calls.calls if "tenants" not in c and "saltusage" not in c]  # once per worker
    # b knows no marker: consent read, insert (fails: a's marker exists), marker read, write on
    # its ETag without a second consent read
    assert [call.split(" /")[0] for call in made] == ["GET", "POST", "GET", "POST"]
    assert made[0].endswith("consent") and "ev20261123s" in made[2]
    calls.calls.clear()
    assert b.send(1)["accepted"] == 1
    assert calls.calls == ["POST /$batch"]


def test_a_withdrawal_on_another_worker_stops_the_next_request(client):
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    assert a.send(2)["accepted"] == 2
    assert a.send(2)["accepted"] == 2  # a now writes on its remembered ETag
    b.decide("declined")
    assert a.send(2) == {"accepted": 0, "dropped": 2}
    assert a.send(2) == {"accepted": 0, "dropped": 2}
    assert events_stored(client) == 4
    b.decide("granted")  # and a new yes works at once, on a's side too
    assert a.send(2) == {"accepted": 2, "dropped": 0}
    assert events_stored(client) == 6


def test_an_erasure_on_another_worker_stops_the_next_request_and_its_markers_are_sealed(client):
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    assert a.send(2)["accepted"] == 2
    done = b.services.erasure.erase(a.principal.user_id, a.principal.tenant_id, "delete")
    affected, consent_deleted = done["events_affected"], done["consent_deleted"]
    assert (affected, consent_deleted) == (2, True)
    assert a.send(2) == {"accepted": 0, "dropped": 2}  # consent unset: off
    assert events_stored(client) == 0
    # Only content-free markers remain, in the tables the user's events could still go to ...
    left = markers(client)
    assert left and all(row_partition == event_partition(a.pseudonym(), "") for _, row_partition in left)
    assert all(
        row == {"PartitionKey": row["PartitionKey"], "RowKey": MARKER, "state": "revoked"}
        for rows in client.stored().values()
        for row in rows
        if row.get("RowKey") == MARKER
    )
    # ... until the retention run after those days stop taking events removes them.
    client.clock.advance(days=3)
    result = b.services.retention.run()
    assert result.consent_markers_removed == len(left)
    assert markers(client) == []


@pytest.mark.parametrize("size", [2, 100])
def test_a_withdrawal_between_the_marker_read_and_the_write_wins(client, size):
    """The slow path's order: marker ETag, then consent, then the conditional write. A withdrawal
    stored after the consent read rewrites the marker, so the write stores nothing and the next
    attempt reads the withdrawal; a full 100-event request too (written after the consent read
    without a marker, all 100 would be stored)."""
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    events = a.services.tables.events
    pseudonyms = a.services.consent.pseudonyms(a.principal)
    records = a.services.ingest._records(a.principal, batch(size), client.clock(), pseudonyms, exact=True)
    answers: list[bool] = []

    def consented() -> bool:
        state, _ = a.services.consent.lookup(a.principal, pseudonyms)
        if not answers:  # the consent was read as granted; now the withdrawal lands elsewhere
            b.decide("declined")
        answers.append(state.granted)
        return state.granted

    assert events.write_consented(records, consented, client.clock()) is False
    assert answers == [True, False]
    assert events_stored(client) == 0


def test_a_withdrawal_invalidates_markers_under_every_enabled_salt_version(client):
    """A worker may still hold the previous salt for a while after a rotation: its pseudonym's
    marker is rewritten too."""
    a = Worker(client)
    a.decide("granted")
    assert a.send(1)["accepted"] == 1
    old_partition = event_partition(a.pseudonym(), "")
    client.vault.rotate()
    b = Worker(client)  # sees the new salt
    b.decide("declined")
    days = writable_days(
        client.clock(), timedelta(hours=24) + REVOKE_SLACK, timedelta(seconds=300) + REVOKE_SLACK
    )
    partitions = {partition for _, partition in markers(client)}
    assert old_partition in partitions and event_partition(b.pseudonym(), "") in partitions
    assert len(markers(client)) == 2 * len(days)
    assert a.send(1)["dropped"] == 1  # a still pseudonymises with the old salt (cached)


def test_a_request_that_finds_no_table_reads_the_marker_and_consent_after_making_it(client):
    """A withdrawal makes the table it marks; a request that read the consent and then found no
    table must not write on that read: it makes the table, then reads the marker and the consent
    (the withdrawal may have marked it meanwhile)."""
    a = Worker.__new__(Worker)
    a.client, a.services = client, client.services  # no tables made ahead
    a.principal = principal_from_header(principal_header(), client.services.settings)
    a.decide("granted")
    calls = Transactions(a)
    assert a.send(1)["accepted"] == 1
    made = [c for c in calls.calls if not any(w in c for w in ("tenants", "saltusage"))]
    first = made.index("POST /$batch")  # after the consent read (and the salt-usage table, once)
    kinds = [c.split(" /")[0] + (" consent" if c.endswith("consent") else "") for c in made[first:]]
    assert made[0].endswith("consent")
    assert kinds[:5] == ["POST", "POST", "GET", "GET consent", "POST"], made  # the insert found no table
    assert made[first + 1] == "POST /Tables" and made[first + 4] == "POST /$batch"
    assert set(made[first + 5 :]) <= {"POST /Tables"}  # the tenant directory's table, on first use
    calls.calls.clear()
    assert a.send(1)["accepted"] == 1
    assert calls.calls == ["POST /$batch"]


def test_a_consent_read_vouches_for_a_marker_for_five_minutes(client):
    """Even if a withdrawal's rewrite of the markers failed, an instance that remembers one goes
    on at most MARKER_TRUST before it reads the consent again."""
    a = Worker(client)
    a.decide("granted")
    assert a.send(1)["accepted"] == 1
    calls = Transactions(a)
    client.clock.advance(minutes=4)
    assert a.send(1)["accepted"] == 1
    assert calls.calls == ["POST /$batch"]
    client.clock.advance(minutes=2)
    calls.calls.clear()
    assert a.send(1)["accepted"] == 1
    assert sum(call.endswith("consent") for call in calls.calls) == 1
    calls.calls.clear()
    assert a.send(1)["accepted"] == 1
    assert calls.calls == ["POST /$batch"]


def test_a_withdrawal_on_an_instance_with_an_old_salt_list_still_reaches_the_new_version(client):
    """The withdrawing instance asks the vault for the versions first: an instance that already
    writes under a newer salt version is stopped too."""
    first = Worker(client)
    first.decide("granted")
    stale = Worker(client)
    stale.services.salts.current()
    stale.services.salts.versions()  # cached: the old version only
    client.vault.rotate()
    newer = Worker(client)  # knows the new version: the consent record moves to its key
    assert newer.send(1)["accepted"] == 1
    assert newer.send(1)["accepted"] == 1
    stale.decide("declined")
    assert newer.send(1) == {"accepted": 0, "dropped": 1}


def test_a_decline_without_an_earlier_yes_stores_no_marker(client):
    a = Worker(client)
    a.decide("declined")
    assert a.send(2) == {"accepted": 0, "dropped": 2}
    assert markers(client) == []
    assert client.entity_count() == 2  # the consent state and its history entry, nothing else


def test_a_stale_etag_stores_nothing(client):
    """Storage level: a transaction conditional on an old ETag fails whole (412)."""
    storage = client.services.storage
    table = storage.table("evcheck")
    storage.ensure_table(table)
    marker = {"PartitionKey": "p", "RowKey": MARKER}
    first = storage.write_conditional(table, [{"PartitionKey": "p", "RowKey": "a", "n": 1}], marker, None)
    second = storage.write_conditional(table, [{"PartitionKey": "p", "RowKey": "b", "n": 2}], marker, first)
    assert second != first and storage.get_versioned(table, "p", MARKER) == (marker, second)
    with pytest.raises(RowChanged):
        storage.write_conditional(table, [{"PartitionKey": "p", "RowKey": "c", "n": 3}], marker, first)
    with pytest.raises(RowChanged):  # an insert where the marker exists
        storage.write_conditional(table, [{"PartitionKey": "p", "RowKey": "d", "n": 4}], marker, None)
    many = [{"PartitionKey": "p", "RowKey": f"m{i:03d}"} for i in range(250)]  # three transactions
    third = storage.write_conditional(table, many, marker, second)
    assert storage.get_versioned(table, "p", MARKER) == (marker, third)
    assert sorted(row["RowKey"] for row in storage.scan(table)) == sorted(
        ["a", "b", MARKER] + [f"m{i:03d}" for i in range(250)]
    )


def test_concurrent_requests_of_one_user_are_all_stored(client):
    """Two threads of one worker and a second worker send for the same user at once, with no
    pause at all: each lost race on the marker is tried again (marker, consent, write). A request
    that loses MARK_ATTEMPTS times in a row is a 503, which the client retries with the same event
    ids (client/): nothing is lost or stored twice, and such 503s stay rare."""
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    errors: list[BaseException] = []
    retried: list[int] = []

    def send(worker: Worker) -> None:
        try:
            for _ in range(15):
                events = batch(2)
                for attempt in range(5):
                    try:
                        result = worker.services.ingest.accept(worker.principal, events, client.clock())
                        break
                    except StorageUnavailable:
                        retried.append(attempt)
                else:
                    raise AssertionError("five 503s in a row")
                assert result.accepted == 2
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(w,)) for w in (a, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert events_stored(client) == 90
    assert len(retried) <= 4  # of 45 requests


def test_readers_never_see_a_marker(client):
    a = Worker(client)
    a.decide("granted")
    assert a.send(3)["accepted"] == 3
    events = a.services.tables.events
    day = client.clock().date()
    assert len(list(events.read(day))) == 3
    assert len(list(events.facts(day))) == 3
    assert list(events.places(day)) == [("workspace", "/cases")] * 3
    assert len(events.user_events(day, a.pseudonym())) == 3
    export = a.services.erasure.export(a.principal.user_id, a.principal.tenant_id)
    assert len(export.events) == 3
    [marker] = export.consent_markers  # shown as what it is, not as an event
    assert marker["day"] == day.isoformat() and marker["state"] == "granted"
    assert marker["checked"] == client.clock()


@pytest.mark.parametrize("how", ["withdrawal", "erasure"])
def test_a_revoke_that_failed_is_done_by_the_retry(client, monkeypatch, how):
    """The decision is stored before the markers are rewritten; if the rewrite fails (503), the
    client's re-sent withdrawal, or the re-run erasure, finds it stored and rewrites them."""
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    assert a.send(2)["accepted"] == 2
    events = b.services.tables.events
    revoke = events.revoke

    def unavailable(*args: Any, **kwargs: Any) -> int:
        raise StorageUnavailable("table storage is unavailable")

    monkeypatch.setattr(events, "revoke", unavailable)
    erase = lambda: b.services.erasure.erase(a.principal.user_id, a.principal.tenant_id, "delete")  # noqa: E731
    with pytest.raises(StorageUnavailable):
        b.decide("declined") if how == "withdrawal" else erase()
    assert a.send(2)["accepted"] == 2  # the markers still stand: the request raced the withdrawal
    monkeypatch.setattr(events, "revoke", revoke)
    b.decide("declined") if how == "withdrawal" else erase()  # the same request again
    assert a.send(2) == {"accepted": 0, "dropped": 2}
    assert events_stored(client) == (4 if how == "withdrawal" else 0)


def test_a_resent_decline_of_someone_who_never_said_yes_stores_no_marker(client):
    a = Worker(client)
    a.decide("declined")
    a.decide("declined")
    a.services.erasure.erase(a.principal.user_id, a.principal.tenant_id, "delete")
    assert markers(client) == []


def test_a_full_hundred_event_request_is_written_with_the_marker(client):
    """100 events leave no room for the marker in one transaction: they take two, each
    conditional on the marker (99 + 1), and the marker stands afterwards. Written alone after a
    consent read, with no marker, they would let a withdrawal land in between."""
    a = Worker(client)
    a.decide("granted")
    calls = Transactions(a)
    assert a.send(100) == {"accepted": 100, "dropped": 0}
    made = [c for c in calls.calls if not any(w in c for w in ("tenants", "saltusage", "/Tables"))]
    assert [call.split(" /")[0] for call in made] == ["GET", "POST", "POST"], made
    assert made[0].endswith("consent") and made[1:] == ["POST /$batch"] * 2
    assert len(markers(client)) == 1
    calls.calls.clear()
    assert a.send(100) == {"accepted": 100, "dropped": 0}
    assert calls.calls == ["POST /$batch"] * 2  # on the remembered ETag: no consent read
    assert events_stored(client) == 200 and len(markers(client)) == 1


def test_a_withdrawal_between_the_two_transactions_of_a_full_request_stops_the_second(client):
    """A withdrawal that returns between a full request's two transactions: the first's 99 events
    were committed before the withdrawal's marker write (so before it returned); the second is
    refused, and nothing is stored after the withdrawal returned."""
    a, b = Worker(client), Worker(client)
    a.decide("granted")
    assert a.send(1)["accepted"] == 1
    wire = a.services.storage._wire
    send = wire.send
    batches: list[int] = []
    stored_when_returned: list[int] = []

    def withdraw_after_first(method: str, path: str, **kw: Any) -> Any:
        answer = send(method, path, **kw)
        if path.startswith("/$batch"):
            batches.append(1)
            if len(batches) == 1:
                b.decide("declined")
                stored_when_returned.append(events_stored(client))
        return answer

    wire.send = withdraw_after_first  # type: ignore[method-assign]
    assert a.send(100) == {"accepted": 0, "dropped": 100}
    assert stored_when_returned == [100]  # 1 earlier + the first transaction's 99
    assert events_stored(client) == stored_when_returned[0]
    assert a.send(100) == {"accepted": 0, "dropped": 100}
    assert events_stored(client) == stored_when_returned[0]


class Writes:
    """A sender's event transactions as (time sent, whether it was stored), over a network of a
    few milliseconds a round trip (loopback Azurite answers in well under one), so that a
    withdrawal can land between a request's reads and its write."""

    def __init__(self, worker: Worker) -> None:
        self.done: list[tuple[float, bool]] = []
        wire = worker.services.storage._wire
        send, submit = wire.send, wire.submit

        def late(method: str, path: str, **kw: Any) -> Any:
            time.sleep(random.uniform(0.001, 0.004))  # jitter, not secrecy
            return send(method, path, **kw)

        def recorded(table: str, operations: Any) -> Any:
            if "ev2" not in table:
                return submit(table, operations)
            time.sleep(random.uniform(0, 0.02))  # a request's own work before it writes
            sent = time.monotonic()
            try:
                answer = submit(table, operations)
            except Exception:
                self.done.append((sent, False))
                raise
            self.done.append((sent, True))
            return answer

        wire.send = late  # type: ignore[method-assign]
        wire.submit = recorded  # type: ignore[method-assign]


@pytest.mark.parametrize(
    ("how", "size"),
    [("withdrawal", 1), ("withdrawal", 50), ("withdrawal", 99), ("withdrawal", 100), ("erasure", 100)],
)
def test_withdrawals_racing_requests_of_every_size_store_nothing_after_they_return(client, how, size):
    """Two workers send a consented user's requests of `size` events without pause while a third
    withdraws (or erases the user): no event transaction sent after the withdrawal returned is
    stored, and nothing is stored after it (after an erasure: nothing at all). Eight rounds of
    grant → race → withdraw, at a different moment each time."""
    senders, c = [Worker(client), Worker(client)], Worker(client)
    writes = []
    for worker in senders:  # the abuse limit is not what this test is about
        worker.services.ingest.limit = EventRateLimit(10**9)
        writes.append(Writes(worker))
    errors: list[BaseException] = []
    late: list[tuple[int, float]] = []
    stored = 0
    for round_ in range(8):
        c.decide("granted")
        stop = threading.Event()
        started = threading.Barrier(len(senders) + 1)

        def send(worker: Worker, started: threading.Barrier, stop: threading.Event) -> None:
            try:
                started.wait()
                while not stop.is_set():
                    with contextlib.suppress(StorageUnavailable):  # the client would retry
                        worker.send(size)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=send, args=(w, started, stop)) for w in senders]
        for thread in threads:
            thread.start()
        started.wait()
        time.sleep(0.03 + 0.013 * round_)
        if how == "withdrawal":
            c.decide("declined")
        else:
            c.services.erasure.erase(c.principal.user_id, c.principal.tenant_id, "delete")
        returned = time.monotonic()
        at_return = events_stored(client)
        assert how == "withdrawal" or at_return == 0
        time.sleep(0.1)  # the senders go on; every request now is refused
        stop.set()
        for thread in threads:
            thread.join()
        assert errors == []
        late += [(round_, sent - returned) for w in writes for sent, ok in w.done if ok and sent > returned]
        assert events_stored(client) <= at_return or late, f"round {round_}: stored after the withdrawal"
        stored += sum(ok for w in writes for _, ok in w.done)  # event transactions stored
        for w in writes:
            w.done.clear()
    assert late == [], "event transactions sent after the withdrawal returned were stored"
    assert stored > 0  # the race was run: events were stored while the consent stood


def test_an_erasure_removes_markers_of_days_that_take_no_more_events(client):
    """Should the retention run have missed nights, an erased user's markers on days that can
    take no more events still go with their events."""
    a = Worker(client)
    a.decide("granted")
    assert a.send(2)["accepted"] == 2
    old_day = client.clock().date()
    client.clock.advance(days=5)
    b = Worker(client)
    b.services.erasure.erase(a.principal.user_id, a.principal.tenant_id, "delete")
    left = markers(client)
    assert left and not any(f"ev{old_day:%Y%m%d}s" in table for table, _ in left)
    revoked = {day.strftime("%Y%m%d") for day in b.services.consent.revoke_days()}
    assert {table.split("ev")[-1][:8] for table, _ in left} <= revoked
