"""Notifications and surveys: product communication inside Cetegra, the in-house Beamer.

Privacy overview: "Cetegra Workspace includes built-in functionality to show important product
notifications and collect optional feedback about updates ... To avoid showing the same message
repeatedly, a pseudonymous user identifier and company association may be used. This information
is used only for product communication and feedback, and is not shared with third parties."

So:
* State (seen/dismissed/answered) and answers are keyed by the notification key, a pseudonym
  with its own HMAC purpose, plus the tenant reference: never the user id, and no value shared
  with events or consent. This is not analytics: consent is never read and no usage event is
  written; a user who declined analytics still gets notifications and may answer.
* Pending = published, inside the window, in the audience, not dismissed, not answered, and for
  a notification not yet seen (a survey stays pending after it was shown until it is answered or
  dismissed: the prompt may be postponed, never repeated once closed).
* Results obey the k rule of the aggregates: no count of 1..k-1 people is shown *or can be worked
  out* from what is shown; smaller cells are folded into `(other)` (and if that remainder is
  itself under k, the next smallest cell joins it), an NPS or mean is shown only where no group
  or rating had to be folded, a survey with fewer than k answers shows nothing. Results are a
  snapshot renewed only after k new answers (no live differencing). Comments go to authors only,
  labelled with a tenant and/or user type only where that cell (and pair) has at least k answers.
  Every one of these decisions is the disclosure package's (`shared.privacy.disclosure`, module
  `buckets`); `tally` and `Notifications._publish` only assemble what it allows.
* Live items are cached per instance for `CACHE_SECONDS`: `GET /api/notifications` then costs
  at most two storage reads (the live items on a cache miss, the caller's state partition).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.kernel.errors import BadRequest, NotFound, StorageUnavailable, VaultUnavailable
from shared.kernel.logs import log
from shared.kernel.periods import months_before
from shared.kernel.settings import UserType
from shared.privacy.disclosure import (
    breakdown_figures_publishable,
    comment_labels,
    figure_publishable,
    fold_buckets,
    refine,
    snapshot_renewable,
    survey_publishable,
)
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import Pseudonymizer, Pseudonyms
from shared.privacy.tenants import KEY_PATTERN
from shared.storage.notifications import (
    AnswerRecord,
    ItemRecord,
    NotificationStore,
    SnapshotRecord,
    StateRecord,
)

LOG = logging.getLogger("cetegra.notifications")

CACHE_SECONDS = 30.0
"""How long an instance serves its cached live items: a publish, change or archive made on another
instance reaches users within this time (on the instance that made it, at once)."""
ARCHIVED_STATE_DAYS = 30
"""Seen/dismissed/answered state of an item is deleted this long after it was archived or its
window ended: it is needed only while the item can still be shown."""
OTHER = "(other)"
TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
"""Any text but control characters (newline and tab allowed)."""
LINE = r"^[^\x00-\x1f\x7f]*$"

Kind = Literal["notification", "survey"]
Priority = Literal["low", "normal", "high"]
Status = Literal["draft", "published", "archived"]
QuestionType = Literal["nps", "rating", "choice"]
Action = Literal["seen", "dismiss"]

MAX_TITLE, MAX_BODY, MAX_COMMENT, MAX_OPTIONS = 120, 2000, 500, 6
MAX_AUTHOR_BYTES = 32 * 1024
MAX_ANSWER_BYTES = 4 * 1024

TenantKey = str
AppId = str


class Question(BaseModel):
    """NPS (0-10), a 1-5 rating, or a single choice of 2 to 6 options."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Question")

    type: QuestionType
    text: str = Field(min_length=1, max_length=300, pattern=LINE)
    options: list[str] | None = Field(None, min_length=2, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _options(self) -> Question:
        if self.type == "choice":
            if not self.options:
                raise ValueError("a choice question needs 2 to 6 options")
            if any(not (1 <= len(o) <= 80) or not o.strip() for o in self.options):
                raise ValueError("each option is 1 to 80 characters")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must differ")
        elif self.options is not None:
            raise ValueError("only a choice question has options")
        return self


class Audience(BaseModel):
    """Who sees an item. An empty list means everyone: all tenants, user types, apps."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Audience")

    tenants: list[TenantKey] = Field(default_factory=list, max_length=500)
    """Stable tenant keys as `GET /api/reports/tenants` lists them (`k` + 16 hex), never raw tenant
    ids: an author targets the companies the reports and the tenant directory name."""
    user_types: list[UserType] = Field(default_factory=list, max_length=3)
    apps: list[AppId] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _keys(self) -> Audience:
        for tenant in self.tenants:
            if not re.fullmatch(r"k[0-9a-f]{16}", tenant):
                raise ValueError("tenants are tenant keys like k0123456789abcdef (GET /api/reports/tenants)")
        for app in self.apps:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", app):
                raise ValueError("apps are module ids like 'workspace'")
        return self


Link = Field(None, max_length=2048, pattern=r"^(https://[^\s<>\"'`]+|/[^\s<>\"'`]*)$")


class ItemFields(BaseModel):
    """What an author writes. Text is stored and returned as text: clients never render it as HTML."""

    model_config = ConfigDict(extra="forbid", strict=True, title="ItemFields")

    kind: Kind
    title: str = Field(min_length=1, max_length=MAX_TITLE, pattern=LINE)
    body: str = Field("", max_length=MAX_BODY, pattern=TEXT)
    link: str | None = Link
    """An https URL or a path of the Workspace; never javascript:, data: or the like."""
    priority: Priority = "normal"
    question: Question | None = None
    audience: Audience = Field(default_factory=Audience)
    series: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    """Repeated surveys of one series (e.g. `quarterly-nps`) form the NPS trend."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> ItemFields:
        check_item(self.kind, self.question, self.starts_at, self.ends_at)
        return self


class ItemPatch(BaseModel):
    """`PATCH`: any item field, and/or the status (draft → published → archived)."""

    model_config = ConfigDict(extra="forbid", strict=True, title="ItemPatch")

    kind: Kind | None = None
    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE, pattern=LINE)
    body: str | None = Field(None, max_length=MAX_BODY, pattern=TEXT)
    link: str | None = Link
    priority: Priority | None = None
    question: Question | None = None
    audience: Audience | None = None
    series: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    status: Status | None = None


class ItemView(BaseModel):
    model_config = ConfigDict(title="ItemView")

    id: str
    status: Status
    kind: Kind
    title: str
    body: str
    link: str | None
    priority: Priority
    question: Question | None
    audience: Audience
    series: str | None
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    archived_at: datetime | None


class ItemList(BaseModel):
    model_config = ConfigDict(title="ItemList")

    items: list[ItemView]


class PendingItem(BaseModel):
    model_config = ConfigDict(title="PendingItem")

    id: str
    kind: Kind
    title: str
    body: str
    link: str | None
    priority: Priority
    question: Question | None
    seen: bool
    """A survey already shown (and neither answered nor dismissed)."""
    starts_at: datetime
    ends_at: datetime


class PendingList(BaseModel):
    model_config = ConfigDict(title="PendingList")

    items: list[PendingItem]


class PendingQuery(BaseModel):
    """Query of `GET /api/notifications`: the app the user is in, for app-targeted items."""

    model_config = ConfigDict(extra="forbid", title="PendingQuery")

    app: str | None = Field(None, pattern=r"^([a-z0-9][a-z0-9_-]{0,39})?$")
    """Empty means none (hosts differ in whether they pass `?app=` on at all)."""


class SurveyAnswer(BaseModel):
    """Body of `POST /api/notifications/{id}/answer`."""

    model_config = ConfigDict(extra="forbid", strict=True, title="SurveyAnswer")

    value: int | str
    """0-10 (NPS), 1-5 (rating), or one of the options (choice)."""
    comment: str | None = Field(None, max_length=MAX_COMMENT, pattern=TEXT)

    @field_validator("value", mode="before")
    @classmethod
    def _number_or_text(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PydanticCustomError("invalid_answer", "an integer or one of the options")
        return value


class MarkRequest(BaseModel):
    """Body of seen/dismiss: `{}` or nothing."""

    model_config = ConfigDict(extra="forbid", strict=True, title="MarkRequest")


class ResultCell(BaseModel):
    model_config = ConfigDict(title="ResultCell")

    key: str
    """A user type or tenant key, or `(other)` for the folded small cells."""
    answers: int
    nps: float | None
    """Null unless every cell of this breakdown has each NPS group at 0 or >= k people."""
    mean: float | None
    """Null unless every cell of this breakdown has each rating at 0 or >= k people."""


class ResultComment(BaseModel):
    model_config = ConfigDict(title="ResultComment")

    text: str
    user_type: str | None
    """The commenter's user type (`(other)` where that cell is folded); null when the survey's
    comments are labelled by tenant only (see `shared.privacy.disclosure.comment_labels`)."""
    tenant: str | None
    """The commenter's tenant key (`(other)` where folded); null when labelled by user type only."""


class NpsTrendPoint(BaseModel):
    model_config = ConfigDict(title="NpsTrendPoint")

    id: str
    title: str
    starts_at: datetime
    answers: int
    nps: float | None


class SurveyResults(BaseModel):
    model_config = ConfigDict(title="SurveyResults")

    id: str
    question: Question
    k: int
    as_of: datetime | None
    """When the snapshot these results come from was taken (null under k): results are renewed at
    most every SNAPSHOT_HOURS and only after k more answers, never live."""
    answers: int
    """0 when fewer than k people answered (then `suppressed` is true and nothing else is shown)."""
    suppressed: bool
    distribution: dict[str, int]
    """Answer → people, each >= k; smaller buckets are summed under `(other)`."""
    nps: float | None
    """% promoters (9-10) - % detractors (0-6), NPS surveys only; null when an NPS group had to
    be folded (it would give the folded counts away)."""
    nps_groups: dict[str, int]
    """NPS surveys: people per group (`promoters`, `passives`, `detractors`), folded like the
    distribution (a group under k is summed with others under `(other)`); `{}` otherwise."""
    mean: float | None
    """Ratings only; null when a rating had to be folded into `(other)` (as for `nps`)."""
    by_user_type: list[ResultCell]
    by_tenant: list[ResultCell]
    comments: list[ResultComment] | None
    """Authors only (null for readers)."""
    trend: list[NpsTrendPoint]
    """The NPS of every survey of this item's series, oldest first."""


class SurveySummary(BaseModel):
    """One survey in the readers' list: its question, window and results under the k rule."""

    model_config = ConfigDict(title="SurveySummary")

    id: str
    title: str
    status: Status
    series: str | None
    question: Question
    starts_at: datetime
    ends_at: datetime
    as_of: datetime | None
    """When the snapshot was taken (see SurveyResults.as_of)."""
    answers: int
    """0 when fewer than k people answered (then `suppressed` is true and nothing else is shown)."""
    suppressed: bool
    distribution: dict[str, int]
    nps: float | None
    nps_groups: dict[str, int]
    mean: float | None
    by_user_type: list[ResultCell]
    by_tenant: list[ResultCell]
    """Cells keyed by the tenant key of the answers (`t` + 16 hex, as audiences name tenants) or
    `(other)`; never a tenant id."""


class NpsSeries(BaseModel):
    model_config = ConfigDict(title="NpsSeries")

    series: str
    points: list[NpsTrendPoint]
    """Oldest first; a point under k has 0 answers and no NPS."""


class SurveyReport(BaseModel):
    """`GET /api/reports/surveys`: every survey that was published, newest first, and the NPS
    trend of every series. Never comments (authors only), pseudonyms or tenant ids."""

    model_config = ConfigDict(title="SurveyReport")

    k: int
    surveys: list[SurveySummary]
    trends: list[NpsSeries]


class NotificationExport(BaseModel):
    model_config = ConfigDict(title="NotificationExport")

    state: list[dict[str, Any]]
    answers: list[dict[str, Any]]


def check_item(kind: str, question: Question | None, starts_at: datetime, ends_at: datetime) -> None:
    """Rules across fields (pydantic turns ValueError into a 400 naming the body)."""
    if kind == "survey" and question is None:
        raise ValueError("a survey needs a question")
    if kind == "notification" and question is not None:
        raise ValueError("a notification has no question")
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if ends_at - starts_at > timedelta(days=366):
        raise ValueError("a window is at most 366 days")


def nps(values: Iterable[int]) -> float | None:
    scores = list(values)
    if not scores:
        return None
    promoters = sum(1 for v in scores if v >= 9)
    detractors = sum(1 for v in scores if v <= 6)
    return round(100.0 * (promoters - detractors) / len(scores), 1)


def new_item_id() -> str:
    return uuid.uuid4().hex


class TenantKeys(Protocol):
    """The stable tenant keys of `shared.privacy.tenants.Tenants` (the one place that knows them)."""

    def note(self, tenant_id: str, current: Pseudonyms) -> str: ...

    def resolve_refs(self, refs: set[str]) -> dict[str, str]: ...


@dataclass
class _Cache:
    items: list[ItemRecord]
    until: float


class Notifications:
    def __init__(
        self,
        store: NotificationStore,
        pseudonymizer: Pseudonymizer,
        clock: Callable[[], datetime],
        *,
        k: int,
        retention_months: int,
        monotonic: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
        tenants: TenantKeys | None = None,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._pseudonymizer = pseudonymizer
        self._clock = clock
        self._k = k
        self._months = retention_months
        self._now = monotonic
        self._ttl = cache_seconds
        self._cache: _Cache | None = None
        self._lock = threading.Lock()

    # ---- users ----------------------------------------------------------------------------------

    def pending(self, principal: Principal, app: str | None) -> PendingList:
        """The caller's pending items: ≤ 2 storage reads (live items if not cached, own state)."""
        identity = self._pseudonymizer.current(principal.tenant_id, principal.user_id)
        now = self._clock()
        live = [
            item
            for item in self._live()
            if item.starts_at <= now < item.ends_at and self._in_audience(item, principal, identity, app)
        ]
        if not live:
            return PendingList(items=[])
        state = {row.item_id: row for row in self._state(principal, identity)}
        out = []
        for item in sorted(live, key=_display_order):
            row = state.get(item.item_id)
            if row is not None and (row.dismissed_at or row.answered_at):
                continue
            if row is not None and row.seen_at and item.kind == "notification":
                continue
            out.append(_pending(item, seen=row is not None and row.seen_at is not None))
        return PendingList(items=out)

    def mark(self, principal: Principal, item_id: str, action: Action) -> None:
        """Seen or dismissed; the first time counts, repeating it writes nothing."""
        identity = self._pseudonymizer.current(principal.tenant_id, principal.user_id)
        item = self._visible(item_id, principal, identity)
        now = self._clock()
        row = self._store.state_row(identity.notification_key, item.item_id) or self._blank(
            identity, principal, item.item_id, now
        )
        if (row.seen_at if action == "seen" else row.dismissed_at) is not None:
            return
        if action == "seen":
            row = replace(row, seen_at=row.seen_at or now, updated_at=now)
        else:
            row = replace(
                row, dismissed_at=row.dismissed_at or now, seen_at=row.seen_at or now, updated_at=now
            )
        self._store.save_state([row])
        log(LOG, logging.INFO, "notifications.marked", action=action, kind=item.kind)

    def answer(self, principal: Principal, item_id: str, answer: SurveyAnswer) -> None:
        """Store the caller's answer, replacing an earlier one (also one made before a rotation)."""
        identity = self._pseudonymizer.current(principal.tenant_id, principal.user_id)
        item = self._visible(item_id, principal, identity)
        if item.kind != "survey" or item.question is None:
            raise BadRequest("this item is not a survey", code="not_a_survey")
        value = _checked_value(Question.model_validate(item.question), answer.value)
        comment = answer.comment.strip() if answer.comment and answer.comment.strip() else None
        older = self._older(principal, identity)
        if self._tenants is not None:
            # Link this salt version's reference to the tenant's stable key now (adopting the key
            # of its older references), so results after a rotation keep one cell per tenant.
            self._tenants.note(principal.tenant_id, identity)
        now = self._clock()
        row = self._store.state_row(identity.notification_key, item.item_id) or self._blank(
            identity, principal, item.item_id, now
        )
        previous = self._store.answer(item.item_id, identity.notification_key)
        self._store.save_answer(
            AnswerRecord(
                item_id=item.item_id,
                key=identity.notification_key,
                tenant=identity.tenant_ref,
                user_type=principal.user_type,
                salt_version=identity.salt_version,
                value=value,
                comment=comment,
                answered_at=now,
            )
        )
        try:
            self._store.save_state(
                [replace(row, answered_at=now, seen_at=row.seen_at or now, updated_at=now)]
            )
        except StorageUnavailable:
            self._undo_answer(item.item_id, identity.notification_key, previous)
            raise
        # One answer per person and survey, also across a salt rotation.
        stale = [
            (item.item_id, p.notification_key)
            for p in older
            if self._store.answer(item.item_id, p.notification_key) is not None
        ]
        self._store.delete_answers(stale)
        log(
            LOG,
            logging.INFO,
            "notifications.answered",
            question=item.question["type"],
            commented=comment is not None,
        )

    def _undo_answer(self, item_id: str, key: str, previous: AnswerRecord | None) -> None:
        """The state write failed after the answer was written: put the earlier answer back (or
        remove the new one), so a 503 leaves nothing changed. Storage that fails twice in a row
        can leave the new answer; the client's retry then replaces it (still one answer)."""
        try:
            if previous is not None:
                self._store.save_answer(previous)
            else:
                self._store.delete_answers([(item_id, key)])
        except StorageUnavailable:
            log(LOG, logging.WARNING, "notifications.answer_undo_failed")

    # ---- authors -----------------------------------------------------------------------------------

    def create(self, fields: ItemFields) -> ItemView:
        now = self._clock()
        item = ItemRecord(
            item_id=new_item_id(),
            status="draft",
            created_at=now,
            updated_at=now,
            published_at=None,
            archived_at=None,
            **_field_values(fields.model_dump()),
        )
        self._store.save_item(item)
        log(LOG, logging.INFO, "notifications.item_created", kind=item.kind)
        return _view(item)

    def items(self) -> ItemList:
        records = sorted(self._store.items(), key=lambda i: (i.created_at, i.item_id), reverse=True)
        return ItemList(items=[_view(i) for i in records])

    def item(self, item_id: str) -> ItemView:
        return _view(self._existing(item_id))

    def update(self, item_id: str, patch: ItemPatch) -> ItemView:
        """Apply a patch. Once published, a survey's kind and question are fixed (answers refer to
        them); archived is final."""
        item = self._existing(item_id)
        changes = patch.model_dump(exclude_unset=True)
        status = changes.pop("status", None)
        if item.status == "archived" and (changes or status not in (None, "archived")):
            raise BadRequest("an archived item cannot change", code="item_archived", field="status")
        if item.published_at is not None:
            for locked in ("kind", "question"):
                if locked in changes and changes[locked] != (
                    item.kind if locked == "kind" else item.question
                ):
                    raise BadRequest(
                        f"{locked} cannot change once the item was published",
                        code="item_locked",
                        field=locked,
                    )
        merged = {**_record_fields(item), **changes}
        try:
            fields = ItemFields.model_validate(merged)
        except ValidationError as exc:
            message, where = _first_error(exc)
            raise BadRequest(message, code="invalid_value", field=where) from None
        now = self._clock()
        # A changed window may show the item again: retention looks at its state anew.
        updated = replace(item, updated_at=now, state_removed_at=None, **_field_values(fields.model_dump()))
        if status is not None and status != item.status:
            updated = replace(
                updated,
                status=status,
                published_at=(item.published_at or now) if status == "published" else item.published_at,
                archived_at=now if status == "archived" else None,
            )
        self._store.save_item(updated)
        self._invalidate()
        log(LOG, logging.INFO, "notifications.item_updated", status=updated.status, kind=updated.kind)
        return _view(updated)

    def results(self, item_id: str, *, with_comments: bool) -> SurveyResults:
        item = self._existing(item_id)
        if item.kind != "survey" or item.question is None:
            raise BadRequest("results exist for surveys only", code="not_a_survey")
        question = Question.model_validate(item.question)
        published, answers = self._results_of(item.item_id, question)
        series = self._series_of(item, self._store.items() if item.series else [item])
        trend = self._trend(series, {item.item_id: published})
        comments = _comments(published, answers) if with_comments else None
        return SurveyResults(
            id=item.item_id,
            question=question,
            k=self._k,
            **published.fields(),
            comments=comments,
            trend=trend,
        )

    def survey_report(self) -> SurveyReport:
        """Every survey ever published (newest first) with its results, and each series' NPS
        trend, for readers: the same snapshot as `results` (one k rule), never comments. Costs one
        read of the items and one of each survey's answers (the snapshot is in that partition)."""
        surveys = [
            item
            for item in self._store.items()
            if item.kind == "survey" and item.question is not None and item.published_at is not None
        ]
        published: dict[str, Published] = {}
        for item in surveys:
            question = Question.model_validate(item.question)
            published[item.item_id], _ = self._results_of(item.item_id, question)
        summaries = []
        for item in sorted(surveys, key=lambda i: (i.starts_at, i.item_id), reverse=True):
            summaries.append(
                SurveySummary(
                    id=item.item_id,
                    title=item.title,
                    status=item.status,  # type: ignore[arg-type]
                    series=item.series,
                    question=Question.model_validate(item.question),
                    starts_at=item.starts_at,
                    ends_at=item.ends_at,
                    **published[item.item_id].fields(),
                )
            )
        names = sorted({item.series for item in surveys if item.series})
        trends = [
            NpsSeries(series=name, points=points)
            for name in names
            if (points := self._trend([i for i in surveys if i.series == name], published))
        ]
        return SurveyReport(k=self._k, surveys=summaries, trends=trends)

    def _results_of(self, item_id: str, question: Question) -> tuple[Published, list[AnswerRecord]]:
        """The survey's published results and its answers, by *stable tenant key*: answers carry
        the tenant reference of the salt version they were given under, which a rotation changes;
        grouped by reference, one tenant would become two cells (each maybe under k) and the report
        could not name it. So every answer's reference is mapped to its key (`Tenants.resolve_refs`)
        before the k rule runs: the rule then counts the tenant's people once, in one cell."""
        answers, snapshot = self._store.answers_and_snapshot(item_id)
        if self._tenants is None:
            return self._publish(item_id, question, answers, snapshot), answers
        keys = self._tenants.resolve_refs({a.tenant for a in answers})
        answers = [replace(a, tenant=keys[a.tenant]) for a in answers]
        published = self._publish(item_id, question, answers, snapshot)
        return _by_key(published, self._tenants), answers

    def _publish(
        self,
        item_id: str,
        question: Question,
        answers: list[AnswerRecord],
        snapshot: SnapshotRecord | None,
    ) -> Published:
        """The survey's published results: a snapshot, not the live answers (docs/notifications.md,
        "Snapshots"). Results that changed with every answer would let anyone who polls before and
        after one person answers (or answers again) read that person's answer off the difference.
        So the first snapshot is taken when k people have answered, and a new one replaces it only
        when it is at least SNAPSHOT_HOURS old *and* at least k answers were given or replaced
        since (`shared.privacy.disclosure.snapshot_renewable`): two consecutive snapshots then
        differ by at least k people's answers. Snapshots are
        aggregates under the k rule (no key, value or comment of anyone) and are kept with the
        survey; erasure removes a person's answer and comment, not their share of a past count."""
        now = self._clock()
        if snapshot is not None:
            previous = Published.model_validate_json(snapshot.data)
            changed = sum(1 for a in answers if a.answered_at > snapshot.taken_at)
            if not snapshot_renewable(changed, now - snapshot.taken_at, self._k):
                return previous
        fresh = tally(question, answers, self._k)
        if fresh.suppressed:
            return fresh  # under k: nothing shown, nothing kept
        fresh = fresh.model_copy(update={"as_of": now})
        self._store.save_snapshot(SnapshotRecord(item_id, now, fresh.model_dump_json()))
        return fresh

    # ---- data-subject rights and retention ----------------------------------------------------

    def erase(self, identities: list[Pseudonyms]) -> int:
        """Delete state and answers under every salt version's key; returns rows deleted."""
        removed = 0
        for identity in identities:
            removed += self._store.delete_partition_state(identity.notification_key)
            answers = self._store.answers_by(identity.notification_key)
            removed += self._store.delete_answers((a.item_id, a.key) for a in answers)
        self._invalidate()
        return removed

    def export(self, identities: list[Pseudonyms]) -> NotificationExport:
        state: list[dict[str, Any]] = []
        answers: list[dict[str, Any]] = []
        for identity in identities:
            for row in self._store.state(identity.notification_key):
                state.append(
                    {
                        "item": row.item_id,
                        "tenant": row.tenant,
                        "user_type": row.user_type,
                        "salt_version": row.salt_version,
                        "seen_at": row.seen_at,
                        "dismissed_at": row.dismissed_at,
                        "answered_at": row.answered_at,
                    }
                )
            for a in self._store.answers_by(identity.notification_key):
                answers.append(
                    {
                        "item": a.item_id,
                        "tenant": a.tenant,
                        "user_type": a.user_type,
                        "salt_version": a.salt_version,
                        "value": a.value,
                        "comment": a.comment,
                        "answered_at": a.answered_at,
                    }
                )
        return NotificationExport(state=state, answers=answers)

    def expire(self) -> int:
        """Daily (retention timer): state of items archived or ended more than ARCHIVED_STATE_DAYS
        ago; answers and any state older than the raw data's retention (24 months)."""
        now = self._clock()
        done_before = now - timedelta(days=ARCHIVED_STATE_DAYS)
        finished = [
            item
            for item in self._store.items()
            if item.state_removed_at is None
            and (
                (item.archived_at is not None and item.archived_at < done_before)
                or item.ends_at < done_before
            )
        ]
        cutoff = datetime.combine(months_before(now.date(), self._months), datetime.min.time(), now.tzinfo)
        removed = 0
        for item in finished:  # each finished item is looked at once, not every day forever
            removed += self._store.delete_state(self._store.state_for_items([item.item_id]))
            self._store.save_item(replace(item, state_removed_at=now))
        removed += self._store.delete_state(self._store.state_updated_before(cutoff))
        answers = self._store.delete_answers(self._store.answers_before(cutoff))
        log(LOG, logging.INFO, "notifications.expired", state_rows=removed, answers=answers)
        return removed + answers

    def salt_versions_in_use(self) -> set[str]:
        """Versions that notification state or answers still depend on (for retention)."""
        return self._store.salt_versions()

    # ---- internals ------------------------------------------------------------------------------

    def _live(self) -> list[ItemRecord]:
        cache = self._cache
        if cache is not None and self._now() < cache.until:
            return cache.items
        with self._lock:
            cache = self._cache
            if cache is not None and self._now() < cache.until:
                return cache.items
            # Items whose window ends within the cache lifetime are still in it; `pending` checks
            # the window against the clock on every request.
            items = self._store.live_items(self._clock())
            self._cache = _Cache(items, self._now() + self._ttl)
            return items

    def _invalidate(self) -> None:
        with self._lock:
            self._cache = None

    def _in_audience(
        self,
        item: ItemRecord,
        principal: Principal,
        identity: Pseudonyms,
        app: str | None,
        *,
        apps: bool = True,
    ) -> bool:
        audience = item.audience
        if audience.get("user_types") and principal.user_type not in audience["user_types"]:
            return False
        if apps and audience.get("apps") and app not in audience["apps"]:
            return False
        tenants = audience.get("tenants")
        if tenants:
            return self._tenant_key(principal, identity) in tenants
        return True

    def _tenant_key(self, principal: Principal, identity: Pseudonyms) -> str:
        """The caller's stable tenant key (as `/api/reports/tenants` lists it; it survives salt
        rotation): a dict lookup once the process has seen the tenant."""
        if self._tenants is None:
            return identity.tenant_ref
        return self._tenants.note(principal.tenant_id, identity)

    def _older(self, principal: Principal, identity: Pseudonyms) -> list[Pseudonyms]:
        """The caller's keys under older enabled salt versions ([] if the vault cannot list them
        now: notifications keep working, the move after a rotation waits for the vault)."""
        try:
            return self._pseudonymizer.previous(identity, principal.tenant_id, principal.user_id)
        except VaultUnavailable:
            log(LOG, logging.WARNING, "notifications.older_versions_unavailable")
            return []

    def _state(self, principal: Principal, identity: Pseudonyms) -> list[StateRecord]:
        """The caller's state: one partition read. Only after a salt rotation, and once per user
        (a marker row records it), are the older keys' partitions read and moved to the current
        key; rows already under the current key win."""
        rows, checked = self._store.state_and_marker(identity.notification_key)
        if checked:
            return rows
        older = self._older(principal, identity)
        if not older:
            return rows
        current = {row.item_id for row in rows}
        moved: list[StateRecord] = []
        for previous in older:
            for row in self._store.state(previous.notification_key):
                if row.item_id not in current:
                    current.add(row.item_id)
                    moved.append(
                        replace(row, key=identity.notification_key, salt_version=identity.salt_version)
                    )
        if moved:
            self._store.save_state(moved)
        for previous in older:
            # Answers follow, so one answer per survey holds and erasure finds them under the
            # current key; the old version can then be disabled once raw data allows it.
            for answer in self._store.answers_by(previous.notification_key):
                if self._store.answer(answer.item_id, identity.notification_key) is None:
                    self._store.save_answer(
                        replace(answer, key=identity.notification_key, salt_version=identity.salt_version)
                    )
                self._store.delete_answers([(answer.item_id, answer.key)])
        self._store.mark_checked(identity.notification_key, identity.salt_version, self._clock())
        for previous in older:
            self._store.delete_partition_state(previous.notification_key)
        return rows + moved

    def _visible(self, item_id: str, principal: Principal, identity: Pseudonyms) -> ItemRecord:
        """The item, if the caller may see it now; otherwise 404 (never saying why)."""
        item = self._store.item(item_id) if _is_id(item_id) else None
        now = self._clock()
        if (
            item is None
            or item.status != "published"
            or not item.starts_at <= now < item.ends_at
            # Seen/dismiss/answer carry no app: an app-targeted item is acted on from that app.
            or not self._in_audience(item, principal, identity, None, apps=False)
        ):
            raise NotFound("no such notification", code="notification_not_found")
        return item

    def _existing(self, item_id: str) -> ItemRecord:
        item = self._store.item(item_id) if _is_id(item_id) else None
        if item is None:
            raise NotFound("no such item", code="item_not_found")
        return item

    @staticmethod
    def _blank(identity: Pseudonyms, principal: Principal, item_id: str, now: datetime) -> StateRecord:
        return StateRecord(
            key=identity.notification_key,
            item_id=item_id,
            tenant=identity.tenant_ref,
            user_type=principal.user_type,
            salt_version=identity.salt_version,
            updated_at=now,
        )

    @staticmethod
    def _series_of(item: ItemRecord, items: list[ItemRecord]) -> list[ItemRecord]:
        """The surveys of the item's series (just the item if it has none)."""
        if not item.series:
            return [item]
        return [i for i in items if i.series == item.series and i.kind == "survey"]

    def _trend(self, series: list[ItemRecord], known: dict[str, Published]) -> list[NpsTrendPoint]:
        """NPS per published NPS survey of a series, oldest first, from each survey's snapshot (a
        survey under k, or whose NPS is withheld by the k rule, has none). Surveys already read
        (`known`) are not read again."""
        points = []
        for survey in sorted(series, key=lambda i: (i.starts_at, i.item_id)):
            if survey.question is None or survey.question.get("type") != "nps" or survey.published_at is None:
                continue
            published = known.get(survey.item_id)
            if published is None:
                question = Question.model_validate(survey.question)
                published, _ = self._results_of(survey.item_id, question)
            points.append(
                NpsTrendPoint(
                    id=survey.item_id,
                    title=survey.title,
                    starts_at=survey.starts_at,
                    answers=published.answers,
                    nps=published.nps,
                )
            )
        return points


class Published(BaseModel):
    """A survey's answers under the k rule: what authors and readers may see (and what a snapshot
    keeps). Nothing here lets anyone work out a count of 1..k-1 people (docs/notifications.md)."""

    model_config = ConfigDict(title="Published")

    as_of: datetime | None = None
    answers: int = 0
    suppressed: bool = True
    distribution: dict[str, int] = Field(default_factory=dict)
    nps: float | None = None
    nps_groups: dict[str, int] = Field(default_factory=dict)
    mean: float | None = None
    by_user_type: list[ResultCell] = Field(default_factory=list)
    by_tenant: list[ResultCell] = Field(default_factory=list)
    labels: Literal["both", "tenant", "user_type"] = "tenant"
    """How comments are labelled (the same for every comment of the survey, see `_comments`)."""
    types_shown: list[str] = Field(default_factory=list)
    tenants_shown: list[str] = Field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "answers": self.answers,
            "suppressed": self.suppressed,
            "distribution": self.distribution,
            "nps": self.nps,
            "nps_groups": self.nps_groups,
            "mean": self.mean,
            "by_user_type": self.by_user_type,
            "by_tenant": self.by_tenant,
        }


def _by_key(published: Published, tenants: TenantKeys) -> Published:
    """A snapshot taken before results were keyed names tenants by reference: shown by key, the
    cells of one tenant's references merged. Every merged count is a sum of published counts (so
    0 or >= k) and a merged NPS or mean is their answer-weighted average, nothing new is given away;
    a figure withheld in one of the cells stays withheld."""
    refs = {c.key for c in published.by_tenant if c.key != OTHER and not re.match(KEY_PATTERN, c.key)}
    if not refs:
        return published
    keys = tenants.resolve_refs(refs)
    merged: dict[str, list[ResultCell]] = {}
    for cell in published.by_tenant:
        merged.setdefault(keys.get(cell.key, cell.key), []).append(cell)

    def weighted(cells: list[ResultCell], figure: str) -> float | None:
        values: list[float | None] = [getattr(c, figure) for c in cells]
        total = sum(c.answers for c in cells)
        if total == 0 or any(v is None for v in values):
            return None
        weighted_sum = sum((v or 0.0) * c.answers for v, c in zip(values, cells, strict=True))
        return round(weighted_sum / total, 1 if figure == "nps" else 2)

    cells = [
        ResultCell(
            key=key,
            answers=sum(c.answers for c in group),
            nps=weighted(group, "nps"),
            mean=weighted(group, "mean"),
        )
        for key, group in merged.items()
    ]
    cells.sort(key=lambda c: (c.key == OTHER, c.key))
    shown = sorted({keys.get(ref, ref) for ref in published.tenants_shown})
    return published.model_copy(update={"by_tenant": cells, "tenants_shown": shown})


def _atom(question: Question, value: int | str) -> str:
    """The finest thing a published NPS or mean is made of: the NPS group, or the rating."""
    return _nps_group(int(value)) if question.type == "nps" else str(value)


def _atoms(question: Question, rows: Iterable[AnswerRecord]) -> dict[str, int]:
    """People per NPS group (for a rating: per rating) among these answers."""
    counts: dict[str, int] = {}
    for a in rows:
        atom = _atom(question, a.value)
        counts[atom] = counts.get(atom, 0) + 1
    return counts


def _clean(question: Question, rows: Iterable[AnswerRecord], k: int) -> bool:
    """May an NPS or mean be published for these answers? Never for a choice question (it has
    none); otherwise as `figure_publishable` decides from the people per group (per rating)."""
    return question.type != "choice" and figure_publishable(_atoms(question, rows), k)


def _cells(
    question: Question, answers: list[AnswerRecord], key: Callable[[AnswerRecord], str], k: int
) -> tuple[list[ResultCell], set[str]]:
    """Answers per user type or tenant, folded (`fold_buckets`). A cell's NPS or mean is shown only
    when `breakdown_figures_publishable` allows it for every cell of the breakdown (`(other)` too):
    then every (cell, group) count is 0 or >= k, and no difference of published figures can
    isolate fewer than k people."""
    groups: dict[str, list[AnswerRecord]] = {}
    for a in answers:
        groups.setdefault(key(a), []).append(a)
    shown, other = fold_buckets({name: len(rows) for name, rows in groups.items()}, k)
    members = [(name, groups[name]) for name in sorted(shown)]
    if other:
        members.append((OTHER, [a for name, rows in groups.items() if name not in shown for a in rows]))
    detailed = question.type != "choice" and breakdown_figures_publishable(
        [_atoms(question, rows) for _, rows in members], k
    )
    cells = [
        ResultCell(
            key=name,
            answers=len(rows),
            nps=nps(int(a.value) for a in rows) if detailed and question.type == "nps" else None,
            mean=_mean(rows) if detailed and question.type == "rating" else None,
        )
        for name, rows in members
    ]
    return cells, set(shown)


def tally(question: Question, answers: list[AnswerRecord], k: int) -> Published:
    """The k rule applied once for every view of a survey's answers; every decision is a call into
    the disclosure package (`shared.privacy.disclosure`), nothing here compares a count with k.

    * Fewer than k answers: nothing (`suppressed`; `survey_publishable`).
    * `distribution`: answer → people, folded (`fold_buckets`); for NPS also made consistent with
      the shown groups (`refine`), so "group - its shown scores" is never 1..k-1 people.
    * `nps_groups`: promoters/passives/detractors, folded.
    * `nps` / `mean`: only when no NPS group (no rating) had to be folded (`_clean`,
      `figure_publishable`).
    * `by_user_type`, `by_tenant`: folded cells; their NPS/mean under the same rule (`_cells`).
    * comment labels (`comment_labels`)."""
    if not survey_publishable(len(answers), k):
        return Published()
    counts: dict[str, int] = {}
    for a in answers:
        counts[str(a.value)] = counts.get(str(a.value), 0) + 1
    shown, _ = fold_buckets(counts, k)
    groups: dict[str, int] = {}
    if question.type == "nps":
        people = {name: 0 for name in NPS_GROUPS}
        for a in answers:
            people[_nps_group(int(a.value))] += 1
        kept, rest = fold_buckets({name: n for name, n in people.items() if n}, k)
        groups = {name: kept[name] for name in NPS_GROUPS if name in kept}
        if rest:
            groups[OTHER] = rest
        shown = refine(counts, shown, {key: _nps_group(int(key)) for key in counts}, set(kept), k)
    distribution = {key: shown[key] for key in _bucket_order(question, shown)}
    if len(answers) > sum(shown.values()):
        distribution[OTHER] = len(answers) - sum(shown.values())
    clean = _clean(question, answers, k)
    by_user_type, types_shown = _cells(question, answers, lambda a: a.user_type, k)
    by_tenant, tenants_shown = _cells(question, answers, lambda a: a.tenant, k)
    return Published(
        answers=len(answers),
        suppressed=False,
        distribution=distribution,
        nps=nps(int(a.value) for a in answers) if clean and question.type == "nps" else None,
        nps_groups=groups,
        mean=_mean(answers) if clean and question.type == "rating" else None,
        by_user_type=by_user_type,
        by_tenant=by_tenant,
        labels=comment_labels(
            Counter((a.tenant, a.user_type) for a in answers), types_shown, tenants_shown, k
        ),
        types_shown=sorted(types_shown),
        tenants_shown=sorted(tenants_shown),
    )


def _comments(published: Published, answers: list[AnswerRecord]) -> list[ResultComment]:
    """Comments of the answers in the snapshot (none under k), labelled as `comment_labels` decided, in
    the order of their text: never by key (one person would sit at the same place in every
    survey) nor by time."""
    if published.suppressed or published.as_of is None:
        return []
    as_of = published.as_of
    types, tenants = set(published.types_shown), set(published.tenants_shown)
    comments = [
        ResultComment(
            text=a.comment,
            user_type=(a.user_type if a.user_type in types else OTHER)
            if published.labels in ("both", "user_type")
            else None,
            tenant=(a.tenant if a.tenant in tenants else OTHER)
            if published.labels in ("both", "tenant")
            else None,
        )
        for a in answers
        if a.comment and a.answered_at <= as_of
    ]
    return sorted(comments, key=lambda c: (c.text.casefold(), c.text))


NPS_GROUPS = ("promoters", "passives", "detractors")


def _nps_group(score: int) -> str:
    """9-10 promoters, 7-8 passives, 0-6 detractors."""
    return "promoters" if score >= 9 else "passives" if score >= 7 else "detractors"


def _is_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


def _display_order(item: ItemRecord) -> tuple[int, float, str]:
    """High priority first, then the newest."""
    rank = {"high": 0, "normal": 1, "low": 2}[item.priority]
    return rank, -item.starts_at.timestamp(), item.item_id


def _pending(item: ItemRecord, *, seen: bool) -> PendingItem:
    return PendingItem(
        id=item.item_id,
        kind=item.kind,  # type: ignore[arg-type]
        title=item.title,
        body=item.body,
        link=item.link,
        priority=item.priority,  # type: ignore[arg-type]
        question=None if item.question is None else Question.model_validate(item.question),
        seen=seen,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
    )


def _view(item: ItemRecord) -> ItemView:
    return ItemView(
        id=item.item_id,
        status=item.status,  # type: ignore[arg-type]
        kind=item.kind,  # type: ignore[arg-type]
        title=item.title,
        body=item.body,
        link=item.link,
        priority=item.priority,  # type: ignore[arg-type]
        question=None if item.question is None else Question.model_validate(item.question),
        audience=Audience.model_validate(item.audience),
        series=item.series,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
        created_at=item.created_at,
        updated_at=item.updated_at,
        published_at=item.published_at,
        archived_at=item.archived_at,
    )


FIELD_NAMES = (
    "kind",
    "title",
    "body",
    "link",
    "priority",
    "question",
    "audience",
    "series",
    "starts_at",
    "ends_at",
)


def _field_values(dumped: dict[str, Any]) -> dict[str, Any]:
    return {name: dumped[name] for name in FIELD_NAMES}


def _record_fields(item: ItemRecord) -> dict[str, Any]:
    return {name: getattr(item, name) for name in FIELD_NAMES}


def _first_error(exc: ValidationError) -> tuple[str, str | None]:
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or None
    message = str(first["msg"]).removeprefix("Value error, ")
    return (f"{where}: {message}" if where else message), where


def _checked_value(question: Question, value: int | str) -> int | str:
    if question.type == "choice":
        if not isinstance(value, str) or value not in (question.options or []):
            raise BadRequest("value: one of the question's options", code="invalid_answer", field="value")
        return value
    low, high = (0, 10) if question.type == "nps" else (1, 5)
    if not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"value: an integer from {low} to {high}", code="invalid_answer", field="value")
    return value


def _mean(rows: list[AnswerRecord]) -> float | None:
    values = [int(a.value) for a in rows]
    return round(sum(values) / len(values), 2) if values else None


def _bucket_order(question: Question, shown: dict[str, int]) -> list[str]:
    if question.type == "choice":
        return [o for o in question.options or [] if o in shown]
    return sorted(shown, key=int)
