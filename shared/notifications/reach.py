"""Reach: how far an item got, for its author. Counts of people only, released once per closed UTC
day as differentially private releases (`shared.privacy.disclosure.reach`, the `REACH` family),
stored, and read back by every query; never compared with k here.

A notification: delivered (the server handed it to the user's client), seen (shown), opened (its
link; the client reports it), dismissed. A survey: delivered, prompted (shown), answered,
dismissed. Each from the pseudonymous state rows the feed keeps anyway (one per user and item),
so reach adds no identifier and no column about a person beyond the time of the action; per day,
a person counts on the day of their first such action, and in at most `REACH_ITEMS_PER_MONTH`
items a month (`first_items`). Rows written before delivery was recorded have no `delivered_at`:
their `seen_at` stands in (a seen item was delivered).

When: `Reach.release` draws every published item's closed days not yet released (the window's
days from its start up to yesterday, zeros included), in one pass over every state row (the bound
needs a person's other items); a read that finds a missing day runs it, and so does retention,
daily, before it removes an ended item's state. Released rows outlive the state they came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta

from shared.kernel.errors import StorageUnavailable
from shared.notifications.models import (
    NOTIFICATION_MEASURES,
    SURVEY_MEASURES,
    ItemReach,
    ReachDay,
    ReachFigure,
    ReachList,
    ReachMeasure,
    ReachSummary,
)
from shared.privacy.disclosure.reach import Released, draw_days, figure, first_items, sigma_of, total
from shared.privacy.disclosure.releases import Releaser
from shared.storage.notifications import ItemRecord, NotificationStore, ReachRow, ReleasedReach

_COLUMN: dict[ReachMeasure, str] = {
    "delivered": "delivered_at",
    "seen": "seen_at",
    "prompted": "seen_at",
    "opened": "opened_at",
    "dismissed": "dismissed_at",
    "answered": "answered_at",
}


def measures_of(kind: str) -> tuple[ReachMeasure, ...]:
    return SURVEY_MEASURES if kind == "survey" else NOTIFICATION_MEASURES


def _when(row: ReachRow, measure: ReachMeasure) -> datetime | None:
    at = row.times.get(_COLUMN[measure])
    if at is None and measure == "delivered":
        return row.times.get("seen_at")
    return at


def _figure(released: Released) -> ReachFigure:
    return ReachFigure(count=released.count, hidden=released.hidden, moe=released.moe)


def _last_day(item: ItemRecord) -> date:
    return (item.ends_at - timedelta(microseconds=1)).date()


def domain_days(item: ItemRecord, today: date) -> list[str]:
    """The days an item's reach is released for: its window from the start up to yesterday, once
    published (a draft reached no one), while its state is kept."""
    if item.published_at is None or item.state_removed_at is not None:
        return []
    first, last = item.starts_at.date(), min(_last_day(item), today - timedelta(days=1))
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def item_reach(item: ItemRecord, released: Iterable[ReleasedReach], today: date, k: int) -> ItemReach:
    """Totals and per-day figures of one item from its stored releases (post-processing only)."""
    measures = measures_of(item.kind)
    rows = sorted(released, key=lambda r: r.day)
    days = [
        ReachDay(
            day=row.day,
            figures={m: _figure(figure(row.values.get(m, 0), row.sigma, k)) for m in measures},
        )
        for row in rows
    ]
    open_now = item.published_at is not None and item.starts_at.date() <= today <= _last_day(item)
    if open_now and item.state_removed_at is None and item.archived_at is None:
        days.append(ReachDay(day=today.isoformat(), released=False, figures={}))
    sigma = max((row.sigma for row in rows), default=0.0)
    totals: dict[str, ReachFigure] = {
        m: _figure(total((row.values.get(m, 0) for row in rows), sigma, k)) for m in measures
    }
    return ItemReach(
        id=item.item_id,
        kind=item.kind,  # type: ignore[arg-type]
        k=k,
        measures=list(measures),
        totals=totals,
        days=days,
        released_through=rows[-1].day if rows else None,
    )


class Reach:
    """Reach for the author routes: one item (a row range of the released rows) or every item (the
    released partition), releasing first any closed day not yet released."""

    def __init__(
        self, store: NotificationStore, clock: Callable[[], datetime], *, releaser: Releaser
    ) -> None:
        self._store = store
        self._clock = clock
        self._releaser = releaser

    @property
    def k(self) -> int:
        return self._releaser.k

    def _today(self) -> date:
        return self._clock().astimezone(UTC).date()

    def of(self, item: ItemRecord) -> ItemReach:
        today = self._today()
        stored = self._store.released_reach(item.item_id)
        if item.reach is not None and not stored and item.state_removed_at is not None:
            return ItemReach.model_validate_json(item.reach)  # kept under the k rule, before releases
        if set(domain_days(item, today)) - {r.day for r in stored}:
            self.release()
            stored = self._store.released_reach(item.item_id)
        return item_reach(item, stored, today, self.k)

    def every(self) -> ReachList:
        today = self._today()
        items = self._store.items()
        stored = self._by_item(self._store.released_reach())
        if any(set(domain_days(i, today)) - {r.day for r in stored.get(i.item_id, [])} for i in items):
            self.release(items)
            stored = self._by_item(self._store.released_reach())
        out = []
        for item in sorted(items, key=lambda i: (i.created_at, i.item_id), reverse=True):
            if item.reach is not None and item.item_id not in stored and item.state_removed_at is not None:
                reach = ItemReach.model_validate_json(item.reach)
            else:
                reach = item_reach(item, stored.get(item.item_id, []), today, self.k)
            out.append(ReachSummary(id=item.item_id, totals=reach.totals))
        return ReachList(k=self.k, items=out)

    @staticmethod
    def _by_item(rows: Iterable[ReleasedReach]) -> dict[str, list[ReleasedReach]]:
        out: dict[str, list[ReleasedReach]] = {}
        for row in rows:
            out.setdefault(row.item_id, []).append(row)
        return out

    def release(self, items: list[ItemRecord] | None = None) -> int:
        """Release every published item's closed days not released yet: one pass over all state
        rows (actions before today only), each person clipped to their first items of each month,
        one `REACH` draw per item over its new days x measures, stored once. Returns the days."""
        now = self._clock().astimezone(UTC)
        today = now.date()
        items = self._store.items() if items is None else items
        done = {(r.item_id, r.day) for r in self._store.released_reach()}
        due = {
            item.item_id: (item, days)
            for item in items
            if (days := [d for d in domain_days(item, today) if (item.item_id, d) not in done])
        }
        if not due:
            return 0
        cutoff = datetime.combine(today, time.min, UTC)
        kinds = {item.item_id: item.kind for item in items if item.state_removed_at is None}
        actions: dict[str, list[tuple[str, ReachMeasure, datetime]]] = {}
        for row in self._store.reach_rows():
            kind = kinds.get(row.item_id)
            if kind is None:
                continue
            for measure in measures_of(kind):
                at = _when(row, measure)
                if at is not None and at < cutoff:
                    actions.setdefault(row.person, []).append((row.item_id, measure, at.astimezone(UTC)))
        counts: dict[tuple[str, str, str], int] = {}
        for acts in actions.values():
            kept = first_items((item_id, at) for item_id, _, at in acts)
            for item_id, measure, at in acts:
                if item_id in due and (item_id, at.strftime("%Y-%m")) in kept:
                    key = (item_id, at.date().isoformat(), measure)
                    counts[key] = counts.get(key, 0) + 1
        sigma = sigma_of(self._releaser)
        released = 0
        for item_id, (item, days) in due.items():
            measures = measures_of(item.kind)
            exact = {(day, m): counts.get((item_id, day, m), 0) for day in days for m in measures}
            noisy = draw_days(self._releaser, exact)
            rows = [
                ReleasedReach(item_id, day, {m: noisy[day, m] for m in measures}, sigma, now) for day in days
            ]
            try:
                self._store.save_released_reach(rows)
            except StorageUnavailable:
                # another instance released (some of) these days at the same moment: theirs stand
                stored = {r.day for r in self._store.released_reach(item_id)}
                if set(days) - stored:
                    raise
            released += len(days)
        return released
