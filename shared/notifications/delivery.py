"""What a user gets: their pending notifications and surveys, seen and dismissed, a survey answer,
and the per-instance cache of the live items.

Product communication, not analytics (privacy overview: "a pseudonymous user identifier and
company association may be used ... only for product communication and feedback"):

* State (seen/dismissed/answered) and answers are keyed by the notification key, a pseudonym
  with its own HMAC purpose, plus the tenant reference: never the user id, and no value shared
  with events or consent. This is not analytics: consent is never read and no usage event is
  written; a user who declined analytics still gets notifications and may answer.
* The feed = published, inside the window, in the audience, not dismissed, not answered. A
  notification stays in it after it was seen (marked read, so the centre can show what is unread
  and the user can find an announcement again) until its window ends or it is dismissed. A
  survey is offered only when the cadence allows it (`cadence.py`: first day, one prompt per
  interval, a pause after an answer or a dismissal), checked here on the server.
* Texts are served in the caller's preferred language where the item has it, else in the
  item's default language.
* Live items are cached per instance for `CACHE_SECONDS`: `GET /api/notifications` then costs
  at most two storage reads (the live items on a cache miss, the caller's state partition), and
  a write only when something is new for the caller: the first request (the cadence row's first
  day) and the first delivery of an item (reach: delivered), together in one transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.kernel.errors import BadRequest, Conflict, NotFound, StorageUnavailable, VaultUnavailable
from shared.kernel.logs import log
from shared.notifications.cadence import UNLIMITED, Cadence
from shared.notifications.models import (
    Action,
    PendingItem,
    PendingList,
    Question,
    SurveyAnswer,
    TenantKeys,
    is_item_id,
)
from shared.privacy.disclosure.releases import SURVEY_ANSWERS_PER_MONTH
from shared.privacy.identity import Principal
from shared.privacy.pseudonyms import Pseudonymizer, Pseudonyms
from shared.storage.notifications import (
    AnswerRecord,
    CadenceRecord,
    ItemRecord,
    NotificationStore,
    StateRecord,
)

LOG = logging.getLogger("cetegra.notifications")

DELIVERED_DAYS = 400
"""A delivery day is kept this long in the user's cadence row: longer than any window (366 days)
plus the 30 days after which retention freezes an ended item's reach."""

CACHE_SECONDS = 30.0
"""How long an instance serves its cached live items: a publish, change or archive made on another
instance reaches users within this time (on the instance that made it, at once)."""


@dataclass
class _Cache:
    items: list[ItemRecord]
    until: float


class Delivery:
    """The user routes' domain: `GET /api/notifications`, seen, dismiss, answer."""

    def __init__(
        self,
        store: NotificationStore,
        pseudonymizer: Pseudonymizer,
        clock: Callable[[], datetime],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        cache_seconds: float = CACHE_SECONDS,
        tenants: TenantKeys | None = None,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._pseudonymizer = pseudonymizer
        self._clock = clock
        self._now = monotonic
        self._ttl = cache_seconds
        self._cache: _Cache | None = None
        self._lock = threading.Lock()

    def pending(
        self,
        principal: Principal,
        app: str | None,
        languages: tuple[str, ...] = (),
        cadence: Cadence = UNLIMITED,
    ) -> PendingList:
        """The caller's feed: ≤ 2 storage reads (live items if not cached, own state partition),
        and one write when something is new for the caller (first request, first delivery)."""
        identity = self._pseudonymizer.current(principal.tenant_id, principal.user_id)
        now = self._clock()
        live = [
            item
            for item in self._live()
            if item.starts_at <= now < item.ends_at and self._in_audience(item, principal, identity, app)
        ]
        rows, profile = self._state(principal, identity)
        state = {row.item_id: row for row in rows}
        surveys = cadence.allows_survey(profile, now)
        out = []
        delivered = {} if profile is None else dict(profile.delivered)
        fresh = False
        for item in sorted(live, key=_display_order):
            row = state.get(item.item_id)
            if row is not None and (row.dismissed_at or row.answered_at):
                continue
            if item.kind == "survey":
                if not surveys:
                    continue
                surveys = not cadence.one_at_a_time
            if item.item_id not in delivered:
                delivered[item.item_id] = now.date().isoformat()
                fresh = True
            seen = row is not None and row.seen_at is not None
            opened = row is not None and row.opened_at is not None
            out.append(_pending(item, languages, seen=seen, opened=opened))
        if profile is None or fresh:
            # One small write, only when something is new for the caller: their first day, or an
            # item's first delivery (kept in the cadence row, so the partition stays small).
            base = profile or CadenceRecord(
                key=identity.notification_key,
                salt_version=identity.salt_version,
                updated_at=now,
                first_seen_at=now,
            )
            horizon = (now - timedelta(days=DELIVERED_DAYS)).date().isoformat()
            kept = {item: day for item, day in delivered.items() if day >= horizon}
            try:
                self._store.save_user_state([], replace(base, updated_at=now, delivered=kept))
            except StorageUnavailable:
                # Reach and the first day are bookkeeping: the feed is still answered; the next
                # request writes them.
                log(LOG, logging.WARNING, "notifications.delivery_not_recorded")
        return PendingList(items=out, unread=sum(1 for i in out if not i.seen))

    def mark(self, principal: Principal, item_id: str, action: Action) -> None:
        """Seen, dismissed or opened; the first time counts, repeating it writes nothing. A
        survey's first `seen` is a prompt and its dismissal a pause for the cadence: the user's
        cadence row changes in the same transaction."""
        identity = self._pseudonymizer.current(principal.tenant_id, principal.user_id)
        item = self._visible(item_id, principal, identity)
        now = self._clock()
        row = self._store.state_row(identity.notification_key, item.item_id) or self._blank(
            identity, principal, item.item_id, now
        )
        field = {"seen": "seen_at", "dismiss": "dismissed_at", "opened": "opened_at"}[action]
        if getattr(row, field) is not None:
            return
        prompted = row.seen_at is None
        row = replace(row, seen_at=row.seen_at or now, updated_at=now)
        if action == "dismiss":
            row = replace(row, dismissed_at=now)
        elif action == "opened":
            row = replace(row, opened_at=now)
        cadence = None
        if item.kind == "survey":
            cadence = self._cadence(identity, now, prompt=prompted, dismissed=action == "dismiss")
        self._store.save_user_state([row], cadence)
        log(LOG, logging.INFO, "notifications.marked", action=action, kind=item.kind)

    def _cadence(
        self,
        identity: Pseudonyms,
        now: datetime,
        *,
        prompt: bool = False,
        dismissed: bool = False,
        answered: bool = False,
    ) -> CadenceRecord:
        """The caller's cadence row with this survey event recorded (one point read)."""
        current = self._store.cadence(identity.notification_key) or CadenceRecord(
            key=identity.notification_key,
            salt_version=identity.salt_version,
            updated_at=now,
            first_seen_at=now,
        )
        return replace(
            current,
            salt_version=identity.salt_version,
            updated_at=now,
            last_prompt_at=now if prompt else current.last_prompt_at,
            last_dismiss_at=now if dismissed else current.last_dismiss_at,
            last_answer_at=now if answered else current.last_answer_at,
        )

    def answer(self, principal: Principal, item_id: str, answer: SurveyAnswer) -> None:
        """Store the caller's answer, replacing an earlier one (also one made before a rotation)."""
        identity = self._pseudonymizer.current(principal.tenant_id, principal.user_id)
        item = self._visible(item_id, principal, identity)
        if item.kind != "survey" or item.question is None:
            raise BadRequest("this item is not a survey", code="not_a_survey")
        value = _checked_value(Question.model_validate(item.question), answer.value, item.translations)
        comment = answer.comment.strip() if answer.comment and answer.comment.strip() else None
        now = self._clock()
        rows = self._store.state(identity.notification_key)  # one partition read serves both
        self._within_monthly_answers(rows, item.item_id, now)  # before anything is written
        older = self._older(principal, identity)
        if self._tenants is not None:
            # Link this salt version's reference to the tenant's stable key now (adopting the key
            # of its older references), so results after a rotation keep one cell per tenant.
            self._tenants.note(principal.tenant_id, identity)
        row = next((r for r in rows if r.item_id == item.item_id), None) or self._blank(
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
            self._store.save_user_state(
                [replace(row, answered_at=now, seen_at=row.seen_at or now, updated_at=now)],
                self._cadence(identity, now, prompt=row.seen_at is None, answered=True),
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

    @staticmethod
    def _within_monthly_answers(rows: list[StateRecord], item_id: str, now: datetime) -> None:
        """A person answers at most `SURVEY_ANSWERS_PER_MONTH` surveys a calendar month (UTC):
        the survey releases' privacy budget is computed for that many (docs/privacy-model.md).
        The cadence keeps offered surveys within it; this holds it for answers to surveys that
        were not offered too (a crafted request), so the budget is a fact, not a hope. Changing
        an answer already given this month is always allowed."""
        month = (now.year, now.month)
        others = {
            row.item_id
            for row in rows
            if row.answered_at is not None
            and (row.answered_at.year, row.answered_at.month) == month
            and row.item_id != item_id
        }
        if len(others) >= SURVEY_ANSWERS_PER_MONTH:
            raise Conflict(
                f"at most {SURVEY_ANSWERS_PER_MONTH} surveys can be answered in a calendar month",
                code="answer_limit",
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

    def invalidate(self) -> None:
        """Drop the cached live items (after a change on this instance: its users see it at once)."""
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

    def _state(
        self, principal: Principal, identity: Pseudonyms
    ) -> tuple[list[StateRecord], CadenceRecord | None]:
        """The caller's state: one partition read. Only after a salt rotation, and once per user
        (a marker row records it), are the older keys' partitions read and moved to the current
        key; rows already under the current key win."""
        rows, checked, profile = self._store.user_state(identity.notification_key)
        if checked:
            return rows, profile
        older = self._older(principal, identity)
        if not older:
            return rows, profile
        current = {row.item_id for row in rows}
        moved: list[StateRecord] = []
        for previous in older:
            for row in self._store.state(previous.notification_key):
                if row.item_id not in current:
                    current.add(row.item_id)
                    moved.append(
                        replace(row, key=identity.notification_key, salt_version=identity.salt_version)
                    )
        if profile is None:  # the cadence follows too: a rotation is not a new user
            profile = next(
                (
                    replace(c, key=identity.notification_key, salt_version=identity.salt_version)
                    for previous in older
                    if (c := self._store.cadence(previous.notification_key)) is not None
                ),
                None,
            )
        if moved or profile is not None:
            self._store.save_user_state(moved, profile)
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
        return rows + moved, profile

    def _visible(self, item_id: str, principal: Principal, identity: Pseudonyms) -> ItemRecord:
        """The item, if the caller may see it now; otherwise 404 (never saying why)."""
        item = self._store.item(item_id) if is_item_id(item_id) else None
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


def _display_order(item: ItemRecord) -> tuple[int, float, str]:
    """High priority first, then the newest."""
    rank = {"high": 0, "normal": 1, "low": 2}[item.priority]
    return rank, -item.starts_at.timestamp(), item.item_id


def preferred_languages(header: str | None) -> tuple[str, ...]:
    """`nb-NO,en` → ("nb", "en"): primary subtags, lower case, Norwegian (`no`, `nn`) read as
    Bokmål, the written Norwegian the items carry."""
    out: list[str] = []
    for part in (header or "").split(","):
        code = part.strip().split("-")[0].lower()
        code = "nb" if code in ("no", "nn") else code
        if code and code not in out:
            out.append(code)
    return tuple(out)


def serving_language(item: ItemRecord, languages: tuple[str, ...]) -> str:
    """The first preferred language the item has, else its default."""
    for code in languages:
        if code == item.language or code in item.translations:
            return code
    return item.language


def _pending(item: ItemRecord, languages: tuple[str, ...], *, seen: bool, opened: bool) -> PendingItem:
    language = serving_language(item, languages)
    text: dict[str, Any] = {} if language == item.language else item.translations.get(language, {})
    question = None
    if item.question is not None:
        question = Question.model_validate(
            {
                **item.question,
                "text": text.get("question") or item.question["text"],
                **({"options": text["options"]} if text.get("options") else {}),
            }
        )
    return PendingItem(
        id=item.item_id,
        kind=item.kind,  # type: ignore[arg-type]
        title=text.get("title") or item.title,
        body=str(text["body"]) if text.get("body") is not None else item.body,
        link=item.link,
        priority=item.priority,  # type: ignore[arg-type]
        question=question,
        seen=seen,
        opened=opened,
        language=language,
        starts_at=item.starts_at,
        ends_at=item.ends_at,
    )


def _checked_value(
    question: Question, value: int | str, translations: dict[str, dict[str, Any]] | None = None
) -> int | str:
    if question.type == "choice":
        options = question.options or []
        if isinstance(value, str) and value not in options:
            # an option as the caller's language showed it: stored as the default's option
            for text in (translations or {}).values():
                if value in (text.get("options") or []):
                    return str(options[text["options"].index(value)])
        if not isinstance(value, str) or value not in options:
            raise BadRequest("value: one of the question's options", code="invalid_answer", field="value")
        return value
    low, high = (0, 10) if question.type == "nps" else (1, 5)
    if not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"value: an integer from {low} to {high}", code="invalid_answer", field="value")
    return value
