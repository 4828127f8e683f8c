"""Reach: how far an item got, for its author. Counts of people only, released by the disclosure
package (`shared.privacy.disclosure.reach`), never compared with k here.

A notification: delivered (the server handed it to the user's client), seen (shown), opened (its
link; the client reports it), dismissed. A survey: delivered, prompted (shown), answered,
dismissed. Each from the pseudonymous state rows the feed keeps anyway (one per user and item),
so reach adds no identifier and no column about a person beyond the time of the action; per day,
a person counts on the day of their first such action.

Rows written before delivery was recorded have no `delivered_at`: their `seen_at` stands in (a
seen item was delivered). When retention removes an ended item's state, the item keeps its
released reach (`ItemRecord.reach`), so the figures outlive the rows they came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

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
from shared.privacy.disclosure.reach import Released, release_reach, release_reach_days
from shared.storage.notifications import ItemRecord, NotificationStore, ReachRow

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
    return ReachFigure(count=released.count, hidden=released.hidden)


def item_reach(item: ItemRecord, rows: Iterable[ReachRow], k: int) -> ItemReach:
    """Totals and per-day figures of one item, as the disclosure package releases them."""
    measures = measures_of(item.kind)
    totals: dict[str, int] = dict.fromkeys(measures, 0)
    days: dict[str, dict[str, int]] = {}
    for row in rows:
        for measure in measures:
            at = _when(row, measure)
            if at is not None:
                totals[measure] += 1
                per_day = days.setdefault(measure, {})
                day = at.date().isoformat()
                per_day[day] = per_day.get(day, 0) + 1
    released_days = {measure: release_reach_days(days.get(measure, {}), k) for measure in measures}
    all_days = sorted({day for per_day in days.values() for day in per_day})
    return ItemReach(
        id=item.item_id,
        kind=item.kind,  # type: ignore[arg-type]
        k=k,
        measures=list(measures),
        totals={name: _figure(r) for name, r in release_reach(totals, k).items()},
        days=[
            ReachDay(
                day=day,
                figures={
                    measure: _figure(released_days[measure][day])
                    for measure in measures
                    if day in released_days[measure]
                },
            )
            for day in all_days
        ],
    )


class Reach:
    """Reach for the author routes: one item (a filtered query of the state table) or every item
    (one projected scan, for the authoring page's list)."""

    def __init__(self, store: NotificationStore, *, k: int) -> None:
        self._store = store
        self._k = k

    def of(self, item: ItemRecord) -> ItemReach:
        if item.reach is not None and item.state_removed_at is not None:
            return ItemReach.model_validate_json(item.reach)
        return item_reach(item, self._store.reach_rows(item.item_id), self._k)

    def every(self) -> ReachList:
        items = self._store.items()
        rows: dict[str, list[ReachRow]] = {}
        for row in self._store.reach_rows():
            rows.setdefault(row.item_id, []).append(row)
        out = []
        for item in sorted(items, key=lambda i: (i.created_at, i.item_id), reverse=True):
            if item.reach is not None and item.state_removed_at is not None:
                reach = ItemReach.model_validate_json(item.reach)
            else:
                reach = item_reach(item, rows.get(item.item_id, []), self._k)
            out.append(ReachSummary(id=item.item_id, totals=reach.totals))
        return ReachList(k=self._k, items=out)
