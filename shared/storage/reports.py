"""Storage of the reports: the only module that knows their table names, keys and columns (the
tenant directory is its own family: shared/storage/tenants.py).

Two classes of data, kept apart by table (docs/reports.md has the reasoning):

* **Raw class** (pseudonymous, lives exactly as long as the raw day it came from):
  - `ud<YYYYMMDD>` — one record per active user per day (the *user-day rollup*: pseudonym,
    tenant key, user type, sessions, events, features touched with their event counts), packed
    as JSON into a few entities per partition; partition = one of 16 buckets of the pseudonym
    (`anon` for anonymous events), rows `c0000`, `c0001`, ... Retention deletes
    the table with its raw day; erasure and export reach a user's rows by exact key.
  - `firstseen` — the first-seen ISO week of every user still in the retained window:
    partition = tenant key, row = `u<pseudonym hex>`. Retention forgets weeks that left the
    window and rows of users not seen since; erasure deletes by exact key.
* **Aggregate class** ("aggregated usage statistics (with no link to individual users)", kept
  beyond the 24 months): counts only, never a pseudonym, session id or event id.
  - `rptactived` — partition = day, row = `<tenant key or (all)>|<user type>`;
    `rptactive{w,m}` — partition = tenant key or `(all)`, row = `<period>|<user type>`.
  - `rptfeature{w,m}` — partition = tenant key or `(all)`, row = `<period>|<user type>|<app>|<feature>`
    (app and feature base64url-encoded in the key: page templates contain `/`).
  - `rptcohort` — partition = tenant key or `(all)`, row = `<cohort week>|<user type>`.
  - `rptstate` — which periods are built (and which tenant partitions they wrote).

A weekly or monthly series for one tenant is one partition, read as one row-key range; day cells
are partitioned by day so that a night's build writes one partition, not one per tenant.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from shared.storage.core import Storage

USER_DAYS = "ud"
FIRST_SEEN = "firstseen"
ACTIVE = {"day": "rptactived", "week": "rptactivew", "month": "rptactivem"}
FEATURES = {"week": "rptfeaturew", "month": "rptfeaturem"}
COHORTS = "rptcohort"
STATE = "rptstate"
ANONYMOUS_ROW = "a"
USER_BUCKETS = 16
CHUNK_CHARS = 30_000
CHUNKS_PER_ENTITY = 12
HIGH = "~"  # sorts after every character used in keys
COHORT_WEEKS = 12

AGGREGATE_TABLES = (*ACTIVE.values(), *FEATURES.values(), COHORTS)
"""What analysts may read with their own tools (the BI role is scoped to exactly these)."""


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def user_row(pseudonym: int) -> str:
    return f"u{pseudonym:016x}"


def user_bucket(pseudonym: int | None) -> str:
    """Rollup partition: 16 buckets by pseudonym (a night writes ~16 transactions per 1,600 active
    users, not one per tenant), `anon` for the anonymous rows. A user's rows are found by key."""
    return "anon" if pseudonym is None else f"b{pseudonym % USER_BUCKETS:x}"


# ---- records --------------------------------------------------------------------------------------


@dataclass
class UserDay:
    """One user's (or, with pseudonym None, the anonymous) activity on one day in one scope."""

    tenant: str
    user_type: str
    pseudonym: int | None
    sessions: int = 0
    events: int = 0
    features: dict[tuple[str, str], int] = field(default_factory=dict)
    """(app, feature) → events."""


@dataclass(frozen=True)
class ActiveCell:
    """A released active-users cell: counts are None when the cell is hidden."""

    grain: str
    period: str
    tenant: str
    user_type: str
    active_users: int | None
    sessions: int | None
    events: int | None
    stickiness: float | None = None
    """Weeks and months: mean daily active users / the period's active users, from released values."""
    moe: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """95 % margins of error of (active_users, sessions, events)."""

    @property
    def hidden(self) -> bool:
        return self.active_users is None


@dataclass(frozen=True)
class FeatureCell:
    grain: str
    period: str
    tenant: str
    user_type: str
    app: str
    feature: str
    users: int
    events: int
    moe: tuple[float, float] = (0.0, 0.0)
    """95 % margins of error of (users, events)."""


@dataclass(frozen=True)
class CohortCell:
    cohort: str
    tenant: str
    user_type: str
    users: int | None
    active: tuple[int | None, ...]
    """Users of the cohort active in each of the following weeks (None: hidden or not yet known)."""
    moe: tuple[float, float] = (0.0, 0.0)
    """95 % margins of error of (users, each active count)."""


@dataclass(frozen=True)
class FirstSeen:
    tenant: str
    pseudonym: int
    user_type: str
    cohort: str
    """ISO week first seen; "" once that week has left the retained window (then: not new)."""
    last_seen: str


@dataclass(frozen=True)
class PeriodState:
    final: bool
    tenants: tuple[str, ...]


class ReportsStore:
    """Typed reads and writes of the report tables through the generic Storage methods."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def storage(self) -> Storage:
        return self._storage

    def _t(self, base: str) -> str:
        return self._storage.table(base)

    # ---- user-day rollup (raw class) ---------------------------------------------------------

    @staticmethod
    def user_days_base(day: date) -> str:
        return f"{USER_DAYS}{day.year:04d}{day.month:02d}{day.day:02d}"

    def user_days_table(self, day: date) -> str:
        return self._t(self.user_days_base(day))

    def replace_user_days(self, day: date, rows: list[UserDay]) -> None:
        """Make the day's rollup exactly `rows` (a rebuild after late events replaces it).

        Rows are packed per pseudonym bucket into a few entities (JSON in string properties), so
        a night writes ~17 entities instead of one per active user: the write cost is what makes
        a rollup expensive, and these rows are only ever read whole (week close) or by bucket."""
        by_bucket: dict[str, list[UserDay]] = {}
        for row in rows:
            by_bucket.setdefault(user_bucket(row.pseudonym), []).append(row)
        table = self.user_days_table(day)
        existing = {
            (str(e["PartitionKey"]), str(e["RowKey"]))
            for e in self._storage.scan(table, select=["PartitionKey", "RowKey"])
        }
        written: set[tuple[str, str]] = set()
        for bucket, members in sorted(by_bucket.items()):
            written |= self._write_bucket(table, bucket, members)
        stale = existing - written
        if stale:
            self._storage.delete_entities(table, sorted(stale))
        elif not rows:
            self._storage.ensure_table(table)

    def _write_bucket(self, table: str, bucket: str, rows: list[UserDay]) -> set[tuple[str, str]]:
        """One partition, one transaction: entities `c0`, `c1`, ... each holding up to
        CHUNKS_PER_ENTITY properties of at most CHUNK_CHARS characters (Azure: 64 KiB per string
        in UTF-16, 1 MiB per entity)."""
        text = json.dumps(
            [
                [
                    "" if r.pseudonym is None else user_row(r.pseudonym),
                    r.tenant,
                    r.user_type,
                    r.sessions,
                    r.events,
                    [[app, feature, n] for (app, feature), n in sorted(r.features.items())],
                ]
                for r in sorted(rows, key=lambda r: (r.pseudonym or 0, r.tenant, r.user_type))
            ],
            separators=(",", ":"),
        )
        pieces = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or ["[]"]
        entities: list[dict[str, object]] = []
        for n in range(0, len(pieces), CHUNKS_PER_ENTITY):
            entity: dict[str, object] = {"PartitionKey": bucket, "RowKey": f"c{n // CHUNKS_PER_ENTITY:04d}"}
            for i, piece in enumerate(pieces[n : n + CHUNKS_PER_ENTITY]):
                entity[f"d{i:02d}"] = piece
            entities.append(entity)
        self._storage.write_partition(table, entities, upsert=True)
        return {(bucket, str(e["RowKey"])) for e in entities}

    @staticmethod
    def _unpack(entities: Iterable[dict[str, object]]) -> list[UserDay]:
        """Rows of the entities of one bucket (in row-key order, as the service returns them)."""
        text = "".join(str(e[name]) for e in entities for name in sorted(k for k in e if k.startswith("d")))
        return [
            UserDay(
                tenant=tenant,
                user_type=user_type,
                pseudonym=int(who[1:], 16) if who else None,
                sessions=int(sessions),
                events=int(events),
                features={(app, feature): int(n) for app, feature, n in features},
            )
            for who, tenant, user_type, sessions, events, features in json.loads(text or "[]")
        ]

    def user_days(self, day: date) -> Iterator[UserDay]:
        buckets: dict[str, list[dict[str, object]]] = {}
        for entity in self._storage.scan(self.user_days_table(day)):
            buckets.setdefault(str(entity["PartitionKey"]), []).append(entity)
        for bucket in sorted(buckets):
            yield from self._unpack(sorted(buckets[bucket], key=lambda e: str(e["RowKey"])))

    def user_day_days(self) -> list[date]:
        prefix = self._t(USER_DAYS)
        days = []
        for name in self._storage.list_tables(USER_DAYS):
            digits = name[len(prefix) :]
            if len(digits) == 8 and digits.isdigit():
                days.append(date(int(digits[:4]), int(digits[4:6]), int(digits[6:])))
        return sorted(days)

    def drop_user_days(self, day: date) -> None:
        self._storage.delete_table(self.user_days_table(day))

    def _bucket(self, day: date, pseudonym: int) -> list[UserDay]:
        entities = self._storage.partition(self.user_days_table(day), user_bucket(pseudonym))
        return self._unpack(sorted(entities, key=lambda e: str(e["RowKey"])))

    def user_rows(self, day: date, pseudonym: int) -> list[UserDay]:
        """One user's rollup rows of one day: one partition read (their bucket)."""
        return [row for row in self._bucket(day, pseudonym) if row.pseudonym == pseudonym]

    def delete_user_rows(self, day: date, pseudonym: int) -> int:
        """Rewrite the user's bucket without them; returns how many of their rows went."""
        rows = self._bucket(day, pseudonym)
        kept = [row for row in rows if row.pseudonym != pseudonym]
        if len(kept) == len(rows):
            return 0
        table = self.user_days_table(day)
        bucket = user_bucket(pseudonym)
        old = {
            (bucket, str(e["RowKey"]))
            for e in self._storage.partition(table, bucket, select=["PartitionKey", "RowKey"])
        }
        written = self._write_bucket(table, bucket, kept) if kept else set()
        self._storage.delete_entities(table, sorted(old - written))
        return len(rows) - len(kept)

    # ---- first-seen index (raw class) ---------------------------------------------------------

    def first_seen(self) -> dict[int, FirstSeen]:
        out = {}
        for e in self._storage.scan(self._t(FIRST_SEEN)):
            pseudonym = int(str(e["RowKey"])[1:], 16)
            out[pseudonym] = FirstSeen(
                e["PartitionKey"], pseudonym, e["user_type"], e["cohort"], e["last_seen"]
            )
        return out

    def write_first_seen(self, rows: Iterable[FirstSeen]) -> None:
        by_tenant: dict[str, list[dict[str, object]]] = {}
        for row in rows:
            by_tenant.setdefault(row.tenant, []).append(
                {
                    "PartitionKey": row.tenant,
                    "RowKey": user_row(row.pseudonym),
                    "user_type": row.user_type,
                    "cohort": row.cohort,
                    "last_seen": row.last_seen,
                }
            )
        for entities in by_tenant.values():
            self._storage.write_partition(self._t(FIRST_SEEN), entities, upsert=True)

    def delete_first_seen(self, rows: Iterable[FirstSeen]) -> int:
        return self._storage.delete_entities(
            self._t(FIRST_SEEN), ((r.tenant, user_row(r.pseudonym)) for r in rows)
        )

    def first_seen_of(self, tenant: str, pseudonym: int) -> FirstSeen | None:
        row = self._storage.get(self._t(FIRST_SEEN), tenant, user_row(pseudonym))
        if row is None:
            return None
        return FirstSeen(tenant, pseudonym, str(row["user_type"]), str(row["cohort"]), str(row["last_seen"]))

    # ---- aggregate cells ------------------------------------------------------------------------

    def _replace_period(self, table: str, period: str, entities: list[dict[str, object]]) -> None:
        """Cells partitioned by period (day grain): one partition read, upserts, stale deletes."""
        old = {str(e["RowKey"]) for e in self._storage.partition(table, period, select=["RowKey"])}
        if entities:
            self._storage.write_partition(table, entities, upsert=True)
        else:
            self._storage.ensure_table(table)
        stale = old - {str(e["RowKey"]) for e in entities}
        if stale:
            self._storage.delete_entities(table, ((period, row) for row in sorted(stale)))

    def _replace(self, table: str, state_key: str, period: str, entities: list[dict[str, object]]) -> None:
        """Make a period's cells exactly `entities`, partition by partition, then delete the cells
        of the previous build that this one no longer has. Deterministic keys: re-running is a no-op."""
        previous = self.period_state(state_key, period)
        by_tenant: dict[str, list[dict[str, object]]] = {}
        for entity in entities:
            by_tenant.setdefault(str(entity["PartitionKey"]), []).append(entity)
        for tenant in sorted(set(previous.tenants if previous else ()) | set(by_tenant)):
            low = f"{period}|"
            old = (
                {
                    str(e["RowKey"])
                    for e in self._storage.query(
                        table,
                        "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
                        {"pk": tenant, "low": low, "high": low + HIGH},
                        select=["RowKey"],
                    )
                }
                if previous
                else set()
            )
            new = by_tenant.get(tenant, [])
            if new:
                self._storage.write_partition(table, new, upsert=True)
            stale = old - {str(e["RowKey"]) for e in new}
            if stale:
                self._storage.delete_entities(table, ((tenant, row) for row in sorted(stale)))
        if not entities:
            self._storage.ensure_table(table)

    def replace_active(self, grain: str, period: str, cells: list[ActiveCell]) -> None:
        entities = [_active_entity(c) for c in cells]
        if grain == "day":
            self._replace_period(self._t(ACTIVE[grain]), period, entities)
        else:
            self._replace(self._t(ACTIVE[grain]), f"active-{grain}", period, entities)

    def replace_features(self, grain: str, period: str, cells: list[FeatureCell]) -> None:
        self._replace(
            self._t(FEATURES[grain]), f"features-{grain}", period, [_feature_entity(c) for c in cells]
        )

    def replace_cohort(self, cohort: str, cells: list[CohortCell]) -> None:
        self._replace(self._t(COHORTS), "cohort", cohort, [_cohort_entity(c) for c in cells])

    def load(self, active: dict[str, list[ActiveCell]], features: dict[str, list[FeatureCell]]) -> None:
        """Bulk upsert of many periods' cells, grouped by partition (benchmarks and imports; no
        stale-cell deletion, no build state)."""
        for table, entities in (
            *((self._t(ACTIVE[g]), [_active_entity(c) for c in cells]) for g, cells in active.items()),
            *((self._t(FEATURES[g]), [_feature_entity(c) for c in cells]) for g, cells in features.items()),
        ):
            self._upsert_by_partition(table, entities)

    def load_cohorts(self, cells: list[CohortCell]) -> None:
        self._upsert_by_partition(self._t(COHORTS), [_cohort_entity(c) for c in cells])

    def _upsert_by_partition(self, table: str, entities: list[dict[str, object]]) -> None:
        by_tenant: dict[str, list[dict[str, object]]] = {}
        for entity in entities:
            by_tenant.setdefault(str(entity["PartitionKey"]), []).append(entity)
        for group in by_tenant.values():
            self._storage.write_partition(table, group, upsert=True)

    def update_cohort(self, cells: list[CohortCell]) -> None:
        """Rewrite existing cohort rows (a later week's activity filled in)."""
        by_tenant: dict[str, list[dict[str, object]]] = {}
        for cell in cells:
            by_tenant.setdefault(cell.tenant, []).append(_cohort_entity(cell))
        for entities in by_tenant.values():
            self._storage.write_partition(self._t(COHORTS), entities, upsert=True)

    def _range(
        self, table: str, tenant: str | None, low: str, high: str, user_type: str | None = None
    ) -> list[dict[str, object]]:
        """Rows of one tenant partition (or of every partition, tenant None) with low <= RowKey < high,
        of one user type if given: filtered by the service, so a query over every tenant returns
        only the rows it shows, not all four user types (docs/benchmarks.md: every tenant's 12
        weeks at full size)."""
        terms = {"RowKey ge @low": low, "RowKey lt @high": high}
        if tenant is not None:
            terms = {"PartitionKey eq @pk": tenant, **terms}
        return self._query(table, terms, user_type)

    def _query(self, table: str, terms: dict[str, str], user_type: str | None) -> list[dict[str, object]]:
        """The rows matching every `term` (each names its one parameter), and the user type."""
        if user_type is not None:
            terms = {**terms, "user_type eq @user_type": user_type}
        parameters = {term.rsplit("@", 1)[1]: value for term, value in terms.items()}
        return self._storage.query(table, " and ".join(terms), parameters)

    def active(
        self, grain: str, tenant: str | None, first: str, last: str, user_type: str | None = None
    ) -> list[ActiveCell]:
        if grain == "day":
            rows = self._by_period(self._t(ACTIVE[grain]), tenant, first, last, user_type)
        else:
            rows = self._range(self._t(ACTIVE[grain]), tenant, f"{first}|", f"{last}|{HIGH}", user_type)
        return [
            ActiveCell(
                grain,
                str(e["period"]),
                str(e["tenant"]),
                str(e["user_type"]),
                _count(e.get("active_users")),
                _count(e.get("sessions")),
                _count(e.get("events")),
                _number(e.get("stickiness")),
                (_moe(e, "active_users"), _moe(e, "sessions"), _moe(e, "events")),
            )
            for e in rows
        ]

    def _by_period(
        self, table: str, tenant: str | None, first: str, last: str, user_type: str | None = None
    ) -> list[dict[str, object]]:
        """Day cells: a partition range (the days), narrowed to one tenant's row-key range and to
        one user type if given."""
        terms = {"PartitionKey ge @first": first, "PartitionKey le @last": last}
        if tenant is not None:
            terms |= {"RowKey ge @low": f"{tenant}|", "RowKey lt @high": f"{tenant}|{HIGH}"}
        return self._query(table, terms, user_type)

    def features(
        self, grain: str, tenant: str | None, first: str, last: str, user_type: str | None = None
    ) -> list[FeatureCell]:
        return [
            FeatureCell(
                grain,
                str(e["period"]),
                str(e["PartitionKey"]),
                str(e["user_type"]),
                str(e["app"]),
                str(e["feature"]),
                int(e["users"]),  # type: ignore[call-overload]
                int(e["events"]),  # type: ignore[call-overload]
                (_moe(e, "users"), _moe(e, "events")),
            )
            for e in self._range(self._t(FEATURES[grain]), tenant, f"{first}|", f"{last}|{HIGH}", user_type)
        ]

    def cohorts(
        self, tenant: str | None, first: str, last: str, user_type: str | None = None
    ) -> list[CohortCell]:
        return [
            CohortCell(
                str(e["cohort"]),
                str(e["PartitionKey"]),
                str(e["user_type"]),
                _count(e.get("users")),
                tuple(_count(e.get(f"a{i}")) for i in range(1, COHORT_WEEKS + 1)),
                (_moe(e, "users"), _moe(e, "active")),
            )
            for e in self._range(self._t(COHORTS), tenant, f"{first}|", f"{last}|{HIGH}", user_type)
        ]

    # ---- build state -----------------------------------------------------------------------------

    def period_state(self, kind: str, period: str) -> PeriodState | None:
        row = self._storage.get(self._t(STATE), kind, period)
        if row is None:
            return None
        return PeriodState(bool(row["final"]), tuple(json.loads(str(row["tenants"]))))

    def built_periods(self, kind: str) -> dict[str, bool]:
        return {
            str(e["RowKey"]): bool(e["final"])
            for e in self._storage.partition(self._t(STATE), kind, select=["RowKey", "final"])
        }

    def save_period_state(self, kind: str, period: str, *, final: bool, tenants: Iterable[str]) -> None:
        """Written after the period's cells, so a crash leaves it unbuilt and the next run rebuilds it."""
        row = {
            "PartitionKey": kind,
            "RowKey": period,
            "final": final,
            "tenants": json.dumps(sorted(set(tenants))),
        }
        self._storage.write_partition(self._t(STATE), [row], upsert=True)


def _count(value: object) -> int | None:
    """A released count, or None where the cell is hidden (the property is absent)."""
    return None if value is None else int(value)  # type: ignore[call-overload]


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _moe(entity: dict[str, object], name: str) -> float:
    return float(entity.get(f"{name}_moe") or 0.0)  # type: ignore[arg-type]


def _released(
    entity: dict[str, object], values: dict[str, int | float | None], moes: dict[str, float]
) -> dict[str, object]:
    """A released row for BI readers: `hidden` says so explicitly, a hidden value is absent (never
    0), and every shown count has its 95 % margin of error beside it (`<name>_moe`)."""
    for name, value in values.items():
        if value is not None:
            entity[name] = value
    for name, moe in moes.items():
        entity[f"{name}_moe"] = moe
    return entity


def _active_entity(c: ActiveCell) -> dict[str, object]:
    """Day cells are partitioned by day (a night writes one partition); week and month cells by
    tenant (a tenant's series is one partition)."""
    by_day = c.grain == "day"
    return _released(
        {
            "PartitionKey": c.period if by_day else c.tenant,
            "RowKey": f"{c.tenant}|{c.user_type}" if by_day else f"{c.period}|{c.user_type}",
            "tenant": c.tenant,
            "period": c.period,
            "user_type": c.user_type,
            "hidden": c.hidden,
        },
        {
            "active_users": c.active_users,
            "sessions": c.sessions,
            "events": c.events,
            "stickiness": c.stickiness,
        },
        {"active_users": c.moe[0], "sessions": c.moe[1], "events": c.moe[2]},
    )


def _feature_entity(c: FeatureCell) -> dict[str, object]:
    return _released(
        {
            "PartitionKey": c.tenant,
            "RowKey": f"{c.period}|{c.user_type}|{_b64(c.app)}|{_b64(c.feature)}",
            "period": c.period,
            "user_type": c.user_type,
            "app": c.app,
            "feature": c.feature,
            "hidden": False,
        },
        {"users": c.users, "events": c.events},
        {"users": c.moe[0], "events": c.moe[1]},
    )


def _cohort_entity(c: CohortCell) -> dict[str, object]:
    values: dict[str, int | float | None] = {"users": c.users}
    for i in range(COHORT_WEEKS):
        values[f"a{i + 1}"] = c.active[i] if i < len(c.active) else None
    return _released(
        {
            "PartitionKey": c.tenant,
            "RowKey": f"{c.cohort}|{c.user_type}",
            "cohort": c.cohort,
            "user_type": c.user_type,
            "hidden": c.users is None,
        },
        values,
        {"users": c.moe[0], "active": c.moe[1]},
    )
