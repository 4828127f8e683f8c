"""Funnels: where people drop out of "open a case → fill it in → submit it".

The steps are declared in `funnel_catalogue.json` beside this module (edited like the page and
event catalogues: a product decision reviewed against the privacy texts). The nightly build
(`FunnelBuilder.run`, called by the funnel timer after the aggregation) reads the raw days
(`EventStore.read`: consented rows only, anonymous rows have no person and no session) and, per
ISO week in which people reached a funnel's first step, counts how many went on to reach each
later step in order:

* `session`: within one session (the session in which they reached the first step), and within
  7 days of reaching it there;
* `7d`: within 7 days (168 hours) of the first time they reached the first step that week.

So a week is built once its last day plus 7 more days are final (the 14 days are read then), and
its cells are kept for good like the other report cells: counts of people per step, per tenant
and user type with their `(all)` margins, released through the disclosure seam
(`shared.privacy.disclosure.funnels.release_funnel_steps`, differential privacy over every key of
the domain, zeros included): a hidden step is stored and shown as null, never 0. Nothing kept
links a count to a person. A catalogue change rebuilds the kept weeks: that is a second release
of those weeks (docs/privacy-model.md, "What is not covered").
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.errors import BadRequest, NotFound
from shared.kernel.logs import log
from shared.kernel.periods import oldest_kept_day, week_key, week_start
from shared.kernel.settings import USER_TYPES, Settings
from shared.privacy.disclosure.funnels import Key, check_funnel_bound, release_funnel_steps
from shared.privacy.disclosure.releases import Releaser
from shared.privacy.tenants import Tenants
from shared.reporting.cells import ALL, PAGE_VIEW
from shared.reporting.queries import EARLIEST, LATEST, TENANT_FILTER, UserTypeFilter
from shared.storage.events import EventStore
from shared.storage.funnels import FunnelCell, FunnelStore

LOG = logging.getLogger("cetegra.funnels")
CATALOGUE = Path(__file__).with_name("funnel_catalogue.json")
MODES = ("session", "7d")
WINDOW = timedelta(days=7)
MAX_WEEKS = 160
DEFAULT_WEEKS = 12
EVERY_TENANT_WEEKS = 4
"""`tenant=*` answers one row per tenant, scope, mode, step and week (12,060 rows for 12 weeks of
200 tenants: p95 1.1 s in bench/reports.py), so its default range is the last 4 weeks."""
Mode = Literal["session", "7d"]


# ---- the catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    label: str
    event: str | None
    page: str | None

    def matches(self, name: str, page: str | None) -> bool:
        """A page step is a page view of that template; an event step that event (on that page,
        when both are given)."""
        if self.event is not None and name != self.event:
            return False
        if self.page is not None:
            return page == self.page and (self.event is not None or name == PAGE_VIEW)
        return True


@dataclass(frozen=True)
class Funnel:
    funnel_id: str
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Catalogue:
    funnels: tuple[Funnel, ...]
    fingerprint: str
    """Changes whenever a funnel's definition does: the weeks built with another are rebuilt."""

    def funnel(self, funnel_id: str) -> Funnel | None:
        return next((f for f in self.funnels if f.funnel_id == funnel_id), None)


def parse_catalogue(text: str) -> Catalogue:
    """The catalogue as the build uses it; a malformed one fails loudly (at start-up and in tests)."""
    raw = json.loads(text)
    funnels = []
    for funnel_id, spec in raw["funnels"].items():
        steps = tuple(Step(s["label"], s.get("event"), s.get("page")) for s in spec["steps"])
        if len(steps) < 2 or any(s.event is None and s.page is None for s in steps):
            raise ValueError(f"funnel {funnel_id}: at least two steps, each an event and/or a page")
        funnels.append(Funnel(funnel_id, str(spec["name"]), steps))
    canonical = json.dumps(raw["funnels"], sort_keys=True, separators=(",", ":"))
    return Catalogue(tuple(funnels), hashlib.sha256(canonical.encode()).hexdigest()[:16])


@cache
def catalogue() -> Catalogue:
    return parse_catalogue(CATALOGUE.read_text(encoding="utf-8"))


# ---- counting (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One raw event that matches a step: when, in which session, which funnel step."""

    at: datetime
    session: str | None
    funnel: int
    step: int


def reached(
    hits: list[Hit], funnel: int, steps: int, week_first: datetime, week_end: datetime
) -> dict[str, int]:
    """How many steps (1..steps) one person reached in order in each mode, or {} when they did
    not reach the first step in the week [week_first, week_end)."""
    mine = sorted((h for h in hits if h.funnel == funnel), key=lambda h: (h.at, h.step))
    entries = [h for h in mine if h.step == 0 and week_first <= h.at < week_end]
    if not entries:
        return {}
    start = entries[0].at
    seven = _walk((h for h in mine if start <= h.at <= start + WINDOW), steps)
    session = 0
    for session_id in {h.session for h in entries}:
        first = min(h.at for h in entries if h.session == session_id)
        session = max(
            session,
            _walk((h for h in mine if h.session == session_id and first <= h.at <= first + WINDOW), steps),
        )
    return {"session": session, "7d": seven}


def _walk(hits: Iterable[Hit], steps: int) -> int:
    """Steps reached in order: the first step, then the second after it, and so on."""
    done = 0
    for hit in hits:
        if done < steps and hit.step == done:
            done += 1
    return done


# ---- the nightly build ---------------------------------------------------------------------------


class FunnelResult(BaseModel):
    model_config = ConfigDict(title="FunnelResult")

    built_weeks: list[str]
    cells: int


class FunnelBuilder:
    """Builds every ISO week whose 14 days (the week and the 7 days after it) are final and that
    is not built yet, or was built with another catalogue while its raw days are still kept."""

    def __init__(
        self,
        events: EventStore,
        store: FunnelStore,
        tenants: Tenants,
        settings: Settings,
        clock: Callable[[], datetime],
        funnels: Catalogue | None = None,
    ) -> None:
        self._events = events
        self._store = store
        self._tenants = tenants
        self._k = settings.aggregate_min_users
        self._months = settings.retention_months
        self._late = timedelta(hours=settings.event_max_age_hours, seconds=settings.event_max_future_seconds)
        self._clock = clock
        self._catalogue = funnels or catalogue()
        self._releaser = Releaser(self._k, noise=settings.release_noise)
        check_funnel_bound([len(f.steps) for f in self._catalogue.funnels], len(MODES))

    def _final(self, day: date, now: datetime) -> bool:
        return now >= datetime.combine(day + timedelta(days=1), time(), tzinfo=now.tzinfo) + self._late

    def pending(self) -> list[str]:
        now = self._clock()
        days = self._events.days()
        if not days:
            return []
        keep_from = max(min(days), oldest_kept_day(now.date(), self._months))
        built = self._store.built()
        first = week_start(week_key(keep_from))
        if first < keep_from:
            first += timedelta(days=7)
        weeks = []
        while self._final(first + timedelta(days=13), now):
            key = week_key(first)
            if built.get(key) != self._catalogue.fingerprint:
                weeks.append(key)
            first += timedelta(days=7)
        return weeks

    def run(self) -> FunnelResult:
        built, cells = [], 0
        for week in self.pending():
            cells += self.build_week(week)
            self._store.mark_built(week, self._catalogue.fingerprint)
            built.append(week)
        log(LOG, logging.INFO, "funnels.built", weeks=len(built), cells=cells)
        return FunnelResult(built_weeks=built, cells=cells)

    def build_week(self, week: str) -> int:
        start = week_start(week)
        tz = self._clock().tzinfo
        week_first = datetime.combine(start, time(), tzinfo=tz)
        week_end = week_first + timedelta(days=7)
        matchers = [
            (f_index, s_index, step)
            for f_index, funnel in enumerate(self._catalogue.funnels)
            for s_index, step in enumerate(funnel.steps)
        ]
        hits: dict[int, list[Hit]] = {}
        scope: dict[int, tuple[str, str]] = {}
        for offset in range(14):
            for event in self._events.read(start + timedelta(days=offset)):
                if event.pseudonym is None or event.user_type is None:
                    continue  # anonymous rows: no person, no session
                at = event.ts or event.received
                for f_index, s_index, step in matchers:
                    if step.matches(event.name, event.page):
                        hits.setdefault(event.pseudonym, []).append(
                            Hit(at, event.session_id, f_index, s_index)
                        )
                        scope.setdefault(event.pseudonym, (event.tenant_ref, event.user_type))
        keys = self._tenants.resolve_refs({ref for ref, _ in scope.values()})
        tenants = sorted({*self._tenants.directory_keys(), *keys.values()})
        # every key of the domain, zeros included: which cells exist must not depend on the data
        counts: dict[Key, list[int]] = {
            (tenant, kind, funnel.funnel_id, mode): [0] * len(funnel.steps)
            for tenant in (ALL, *tenants)
            for kind in (ALL, *USER_TYPES)
            for funnel in self._catalogue.funnels
            for mode in MODES
        }
        for f_index, funnel in enumerate(self._catalogue.funnels):
            for pseudonym, mine in hits.items():
                reached_steps = reached(mine, f_index, len(funnel.steps), week_first, week_end)
                if not reached_steps:
                    continue
                ref, user_type = scope[pseudonym]
                for tenant in (keys[ref], ALL):
                    for kind in (user_type, ALL):
                        for mode, n in reached_steps.items():
                            cell = counts.get((tenant, kind, funnel.funnel_id, mode))
                            if cell is None:
                                continue  # a user type outside the policy's: not in the domain
                            for i in range(n):
                                cell[i] += 1
        shown = release_funnel_steps(counts, self._releaser)
        return self._store.replace_week(
            week,
            [
                FunnelCell(tenant, week, user_type, funnel_id, mode, steps, moe)
                for (tenant, user_type, funnel_id, mode), (steps, moe) in shown.items()
            ],
        )


# ---- the report ------------------------------------------------------------------------------


class FunnelsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="FunnelsQuery")

    funnel: str | None = Field(
        None, pattern=r"^[a-z0-9_]{1,64}$", description="A funnel id from the catalogue; default: the first"
    )
    from_: date | None = Field(
        None,
        alias="from",
        ge=EARLIEST,
        le=LATEST,
        description="First day (YYYY-MM-DD); default: 12 weeks before `to` (4 with `tenant=*`)",
    )
    to: date | None = Field(
        None, ge=EARLIEST, le=LATEST, description="Last day (YYYY-MM-DD); default: yesterday (UTC)"
    )
    tenant: str | None = Field(
        None, pattern=TENANT_FILTER, description="A tenant key, `*` for every tenant; default: `(all)` only"
    )
    user_type: UserTypeFilter | None = Field(None, description="Default: `(all)` only")
    mode: Mode | None = Field(None, description="`session` or `7d`; default: both")


class FunnelStepRow(BaseModel):
    """One step of one funnel cell, released (docs/privacy-model.md). `users` is null and `hidden`
    true where the release is too small to show (and for every step after a hidden one)."""

    week: str
    tenant: str
    user_type: str
    mode: str
    step: int
    label: str
    users: int | None
    hidden: bool
    conversion: float | None
    """Share of the first step's people who reached this step (null if either is hidden)."""
    from_previous: float | None
    """Share of the previous step's people who reached this step (null if either is hidden)."""
    moe: float | None = None
    """95 % margin of error of `users` (null when hidden)."""


class FunnelDefinition(BaseModel):
    id: str
    name: str
    steps: list[str]


class FunnelsReport(BaseModel):
    model_config = ConfigDict(title="FunnelsReport")

    funnel: str
    funnels: list[FunnelDefinition]
    from_: date = Field(serialization_alias="from")
    to: date
    k: int
    rows: list[FunnelStepRow]


def _share(part: int | None, whole: int | None) -> float | None:
    if part is None or whole is None or whole == 0:
        return None
    return round(part / whole, 4)


class FunnelReader:
    def __init__(
        self, store: FunnelStore, k: int, clock: Callable[[], datetime], funnels: Catalogue | None = None
    ) -> None:
        self._store = store
        self._k = k
        self._clock = clock
        self._catalogue = funnels or catalogue()

    def report(self, query: FunnelsQuery) -> FunnelsReport:
        funnels = self._catalogue.funnels
        funnel = self._catalogue.funnel(query.funnel) if query.funnel else funnels[0]
        if funnel is None:
            raise NotFound("no such funnel in the catalogue", code="not_found")
        last = query.to or self._clock().date() - timedelta(days=1)
        weeks = EVERY_TENANT_WEEKS if query.tenant == "*" else DEFAULT_WEEKS
        first = query.from_ or last - timedelta(weeks=weeks) + timedelta(days=1)
        if first > last:
            raise BadRequest("'from' is after 'to'", code="invalid_value", field="from")
        if (last - first).days >= 7 * MAX_WEEKS:
            raise BadRequest(f"at most {MAX_WEEKS} weeks per request", code="range_too_long", field="from")
        tenants = [ALL] if query.tenant in (None, ALL) else None
        if query.tenant == "*":
            tenants = None
        elif query.tenant not in (None, ALL):
            tenants = [str(query.tenant)]
        user_type = query.user_type or ALL
        cells = self._cells(tenants, week_key(first), week_key(last), user_type, query.mode)
        rows: list[FunnelStepRow] = []
        for cell in sorted(cells, key=lambda c: (c.week, c.tenant != ALL, c.tenant, c.user_type, c.mode)):
            if cell.funnel != funnel.funnel_id or cell.user_type != user_type:
                continue
            if query.mode is not None and cell.mode != query.mode:
                continue
            for i, step in enumerate(funnel.steps):
                n = cell.steps[i] if i < len(cell.steps) else None
                rows.append(
                    FunnelStepRow.model_construct(  # from kept cells: no validation per row
                        week=cell.week,
                        tenant=cell.tenant,
                        user_type=cell.user_type,
                        mode=cell.mode,
                        step=i + 1,
                        label=step.label,
                        users=n,
                        hidden=n is None,
                        conversion=_share(n, cell.steps[0]),
                        from_previous=None if i == 0 else _share(n, cell.steps[i - 1]),
                        moe=None if n is None or not cell.moe else cell.moe,
                    )
                )
        return FunnelsReport(
            funnel=funnel.funnel_id,
            funnels=[
                FunnelDefinition(id=f.funnel_id, name=f.name, steps=[s.label for s in f.steps])
                for f in funnels
            ],
            from_=first,
            to=last,
            k=self._k,
            rows=rows,
        )

    def _cells(
        self, tenants: list[str] | None, first: str, last: str, user_type: str, mode: str | None
    ) -> list[FunnelCell]:
        if tenants is None:
            return self._store.all_cells(first, last, user_type, mode)
        return [cell for tenant in tenants for cell in self._store.cells(tenant, first, last)]
