"""The vocabulary of notifications and surveys: the request and response models of the routes, the
limits on what authors and users send, item ids, and the tenant-key port that delivery and results
share.

The models hold only the rules a body can be checked by on its own (lengths, patterns, a survey's
question, a window of at most 366 days); rules that need stored items or answers are the other
modules': `authoring` (items), `delivery` (what a user sees and answers) and `results` (the k
rule). Text is stored and returned as text: clients never render it as HTML.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.kernel.settings import UserType
from shared.privacy.pseudonyms import Pseudonyms

TEXT = r"^[^\x00-\x08\x0b-\x1f\x7f]*$"
"""Any text but control characters (newline and tab allowed)."""
LINE = r"^[^\x00-\x1f\x7f]*$"

Kind = Literal["notification", "survey"]
Priority = Literal["low", "normal", "high"]
Status = Literal["draft", "published", "archived"]
QuestionType = Literal["nps", "rating", "choice"]
Action = Literal["seen", "dismiss", "opened"]

MAX_TITLE, MAX_BODY, MAX_COMMENT, MAX_OPTIONS = 120, 2000, 500, 6
MAX_LANGUAGES = 8
LANGUAGE = r"^[a-z]{2,3}$"
"""An ISO 639 language code (`nb`, `en`): the primary subtag of what browsers send."""
LANGUAGES: tuple[str, ...] = ("en", "nb")
"""The languages the authoring page offers (Cetegra's users read English and Norwegian Bokmål);
the API takes any ISO 639 code."""
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


class Translation(BaseModel):
    """An item's text in one more language. A field left out falls back to the item's default
    language (`language`), so a translation may cover just the title."""

    model_config = ConfigDict(extra="forbid", strict=True, title="Translation")

    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE, pattern=LINE)
    body: str | None = Field(None, max_length=MAX_BODY, pattern=TEXT)
    question: str | None = Field(None, min_length=1, max_length=300, pattern=LINE)
    """The survey question's text in this language."""
    options: list[str] | None = Field(None, min_length=2, max_length=MAX_OPTIONS)
    """A choice question's options in this language, in the same order (the answer stored is
    always the default language's option at that place)."""


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
    question: Question | None = Field(None, validate_default=True)
    audience: Audience = Field(default_factory=Audience)
    series: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    """Repeated surveys of one series (e.g. `quarterly-nps`) form the NPS trend."""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    language: str = Field("en", pattern=LANGUAGE)
    """The language of `title`, `body` and `question`: the fallback for every other language."""
    translations: dict[str, Translation] = Field(default_factory=dict, max_length=MAX_LANGUAGES)
    """More languages, keyed by ISO 639 code (`nb`)."""

    # Rules across fields are field validators of the later field (pydantic gives them the
    # earlier ones), so a 400 names the field to fix: the authoring page shows it there.

    @field_validator("question")
    @classmethod
    def _question_fits_kind(cls, question: Question | None, info: ValidationInfo) -> Question | None:
        kind = info.data.get("kind")
        if kind == "survey" and question is None:
            raise ValueError("a survey needs a question")
        if kind == "notification" and question is not None:
            raise ValueError("a notification has no question")
        return question

    @field_validator("ends_at")
    @classmethod
    def _window(cls, ends_at: datetime, info: ValidationInfo) -> datetime:
        starts_at = info.data.get("starts_at")
        if starts_at is not None:
            check_window(starts_at, ends_at)
        return ends_at

    @field_validator("translations")
    @classmethod
    def _translations(
        cls, translations: dict[str, Translation], info: ValidationInfo
    ) -> dict[str, Translation]:
        check_translations(info.data.get("language", "en"), info.data.get("question"), translations)
        return translations


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
    language: str | None = Field(None, pattern=LANGUAGE)
    translations: dict[str, Translation] | None = Field(None, max_length=MAX_LANGUAGES)
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
    language: str
    translations: dict[str, Translation]
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
    """In the item's language as served (`language`); a choice's options likewise, in the
    default language's order (an answer may name either)."""
    seen: bool
    """Already shown to the caller: a notification in the feed that is read; a survey that was
    prompted (and neither answered nor dismissed)."""
    opened: bool = False
    """The caller opened the item's link."""
    language: str = "en"
    """The language the texts are in: the caller's preferred one if the item has it, else the
    item's default."""
    starts_at: datetime
    ends_at: datetime


class PendingList(BaseModel):
    model_config = ConfigDict(title="PendingList")

    items: list[PendingItem]
    """The caller's feed: notifications until they end or are dismissed (read ones too), and the
    surveys the cadence allows now."""
    unread: int = 0
    """How many of `items` the caller has not seen yet (the notification centre's badge)."""


class PendingQuery(BaseModel):
    """Query of `GET /api/notifications`: the app the user is in, for app-targeted items."""

    model_config = ConfigDict(extra="forbid", title="PendingQuery")

    app: str | None = Field(None, pattern=r"^([a-z0-9][a-z0-9_-]{0,39})?$")
    """Empty means none (hosts differ in whether they pass `?app=` on at all)."""
    lang: str | None = Field(
        None, pattern=r"^([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*(,[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*){0,4})?$"
    )
    """The caller's preferred languages, best first (`nb-NO,en`): each item is served in the first
    one it has (by primary subtag; `no`/`nn` read `nb`), else in its default language."""


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
    """A user type (or `(none)`) or tenant key."""
    answers: int | None
    """The released number of answers of this cell (the sum of its released buckets); null when
    hidden (never 0)."""
    moe: float = 0.0
    """The 95 % margin of error of `answers` (0 in the exact test mode)."""
    nps: float | None
    """From the cell's released NPS histogram; null when `answers` is hidden."""
    nps_moe: float | None = None
    mean: float | None
    """From the cell's released rating histogram; null when `answers` is hidden."""
    mean_moe: float | None = None


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
    answers: int | None
    """The released number of answers of the survey's latest snapshot."""
    answers_moe: float = 0.0
    nps: float | None
    """Its NPS (a survey whose NPS is not shown has no point)."""
    nps_moe: float | None = None


class SurveyResults(BaseModel):
    """A survey's results: differentially private releases (docs/notifications.md, "Results"),
    from its latest scheduled snapshot. Hidden figures are null, never 0; every figure carries its
    95 % margin of error (`*_moe`, 0 in the exact test mode)."""

    model_config = ConfigDict(title="SurveyResults")

    id: str
    question: Question
    k: int
    as_of: datetime | None
    """When the snapshot these results come from was taken (null before the first one)."""
    answers: int | None
    """The released number of answers (the sum of the released buckets); null when hidden (then
    `suppressed` is true and nothing else is shown) or before the first snapshot."""
    answers_moe: float = 0.0
    suppressed: bool
    distribution: dict[str, int | None]
    """Every answer bucket (NPS 0-10, rating 1-5, the options) → released people; null when
    hidden (under the threshold), never 0."""
    distribution_moe: float = 0.0
    """The 95 % margin of error of each bucket."""
    nps: float | None
    """% promoters (9-10) - % detractors (0-6) of the released histogram, NPS surveys only."""
    nps_moe: float | None = None
    nps_groups: dict[str, int | None]
    """NPS surveys: people per group (`promoters`, `passives`, `detractors`), the sums of their
    released buckets; null when hidden; `{}` otherwise."""
    nps_groups_moe: dict[str, float] = Field(default_factory=dict)
    mean: float | None
    """Ratings only: the mean of the released histogram."""
    mean_moe: float | None = None
    by_user_type: list[ResultCell]
    """Every user type of the policy and `(none)`."""
    by_tenant: list[ResultCell]
    """The tenants whose released answers are shown."""
    comments: list[ResultComment] | None
    """Authors only (null for readers); outside the releases."""
    trend: list[NpsTrendPoint]
    """The NPS of every survey of this item's series with an NPS shown, oldest first."""
    live: bool = False
    """Published and inside its window now (a survey whose window ended is not live)."""
    waiting: ReachFigure | None = None
    """Always null since results are releases (kept so that clients reading it keep working)."""
    snapshot: int = 0
    """Which of the survey's at most 4 scheduled snapshots this is (0: none yet)."""
    renewable_at: datetime | None = None
    """When the next snapshot may be taken (before the first: when the first results come);
    null after the last one."""


class SurveySummary(BaseModel):
    """One survey in the readers' list: its question, window and released results (see
    SurveyResults for every field)."""

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
    answers: int | None
    """Null when hidden or before the first snapshot (then `suppressed` is true)."""
    answers_moe: float = 0.0
    suppressed: bool
    distribution: dict[str, int | None]
    distribution_moe: float = 0.0
    nps: float | None
    nps_moe: float | None = None
    nps_groups: dict[str, int | None]
    nps_groups_moe: dict[str, float] = Field(default_factory=dict)
    mean: float | None
    mean_moe: float | None = None
    by_user_type: list[ResultCell]
    by_tenant: list[ResultCell]
    """Cells keyed by the tenant key of the answers (`t` + 16 hex, as audiences name tenants);
    never a tenant id."""
    live: bool = False
    """Published and inside its window now."""
    waiting: ReachFigure | None = None
    """Always null (see SurveyResults.waiting)."""
    snapshot: int = 0
    renewable_at: datetime | None = None


class NpsSeries(BaseModel):
    model_config = ConfigDict(title="NpsSeries")

    series: str
    points: list[NpsTrendPoint]
    """Oldest first; only surveys with an NPS shown."""


class SurveyReport(BaseModel):
    """`GET /api/reports/surveys`: every survey that was published, newest first, and the NPS
    trend of every series. Never comments (authors only), pseudonyms or tenant ids."""

    model_config = ConfigDict(title="SurveyReport")

    k: int
    surveys: list[SurveySummary]
    trends: list[NpsSeries]


def check_window(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    if ends_at - starts_at > timedelta(days=366):
        raise ValueError("a window is at most 366 days")


def check_translations(
    language: str, question: Question | None, translations: dict[str, Translation]
) -> None:
    """A translation is of another language than the default, carries a question only for a
    survey, and a choice's options one for one."""
    for code, translation in translations.items():
        if not re.fullmatch(LANGUAGE, code):
            raise ValueError("translations are keyed by ISO 639 language codes like 'nb'")
        if code == language:
            raise ValueError(f"translations.{code}: the default language is the item's own text")
        if question is None and (translation.question is not None or translation.options is not None):
            raise ValueError(f"translations.{code}: only a survey has a question")
        if translation.options is not None:
            if (
                question is None
                or question.type != "choice"
                or len(translation.options) != len(question.options or [])
            ):
                raise ValueError(f"translations.{code}.options: one per option of the question, in its order")
            if any(not (1 <= len(o) <= 80) or not o.strip() for o in translation.options):
                raise ValueError(f"translations.{code}.options: each option is 1 to 80 characters")


def new_item_id() -> str:
    return uuid.uuid4().hex


def is_item_id(value: str) -> bool:
    """What `new_item_id` makes (32 lower-case hex digits): anything else is not looked up."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


class TenantKeys(Protocol):
    """The stable tenant keys of `shared.privacy.tenants.Tenants` (the one place that knows them)."""

    def note(self, tenant_id: str, current: Pseudonyms) -> str: ...

    def resolve_refs(self, refs: set[str]) -> dict[str, str]: ...

    def directory_keys(self) -> tuple[str, ...]: ...


# ---- reach, cadence, the tenant directory (authors) ---------------------------------------------

ReachMeasure = Literal["delivered", "seen", "opened", "dismissed", "prompted", "answered"]
NOTIFICATION_MEASURES: tuple[ReachMeasure, ...] = ("delivered", "seen", "opened", "dismissed")
SURVEY_MEASURES: tuple[ReachMeasure, ...] = ("delivered", "prompted", "answered", "dismissed")


class ReachFigure(BaseModel):
    """A count of people as released by `shared.privacy.disclosure.reach` (a differentially
    private release): the number, or `hidden: true` and null when it does not clear the threshold
    (never a 0 standing in for it); `moe` is its 95 % margin of error (0 in the exact test mode)."""

    model_config = ConfigDict(title="ReachFigure")

    count: int | None
    hidden: bool
    moe: float = 0.0


class ReachDay(BaseModel):
    model_config = ConfigDict(title="ReachDay")

    day: str
    """A UTC day (YYYY-MM-DD): the people whose first such action was that day."""
    released: bool = True
    """False for today: the day is in progress and not released (no figures) until it closes."""
    figures: dict[str, ReachFigure]


class ItemReach(BaseModel):
    """`GET /api/authoring/items/{id}/reach`: how far an item got, counts of people only, released
    once per closed UTC day (docs/notifications.md, "Reach"). A notification: delivered (handed to
    the client), seen, opened (its link), dismissed; a survey: delivered, prompted (shown),
    answered, dismissed."""

    model_config = ConfigDict(title="ItemReach")

    id: str
    kind: Kind
    k: int
    measures: list[ReachMeasure]
    totals: dict[str, ReachFigure]
    """Per measure, the sum of the released days (with its own margin of error)."""
    days: list[ReachDay]
    """Oldest first: every released day of the item's window (zeros included), then today if the
    window is open (`released: false`)."""
    released_through: str | None = None
    """The last released day (yesterday at most); null before the first day closed."""


class ReachSummary(BaseModel):
    model_config = ConfigDict(title="ReachSummary")

    id: str
    totals: dict[str, ReachFigure]


class ReachList(BaseModel):
    """`GET /api/authoring/reach`: every item's totals (the authoring page's list)."""

    model_config = ConfigDict(title="ReachList")

    k: int
    items: list[ReachSummary]


class CadenceView(BaseModel):
    """The deployment's survey cadence (app settings), enforced by `GET /api/notifications`."""

    model_config = ConfigDict(title="CadenceView")

    first_day: int
    """No survey before a user's N-th day (day 1: the first day the centre asked for items)."""
    interval_days: int
    """At most one survey prompt per N days per user (0: no limit)."""
    pause_after_answer_days: int
    pause_after_dismiss_days: int


class AuthoringSettings(BaseModel):
    """`GET /api/authoring/settings`: what authors need to know about how items are shown."""

    model_config = ConfigDict(title="AuthoringSettings")

    cadence: CadenceView
    k: int
    """Counts of fewer people are hidden."""
    languages: list[str]
    cache_seconds: int
    """A change reaches every user within this time."""
    snapshot_hours: int
    """Survey results are renewed at most this often (and only after k more answers)."""


class DirectoryTenant(BaseModel):
    model_config = ConfigDict(title="DirectoryTenant")

    tenant: str
    """The stable tenant key an audience names."""
    name: str | None


class TenantDirectory(BaseModel):
    """`GET /api/authoring/tenants`: the tenant directory's keys and names, no counts."""

    model_config = ConfigDict(title="TenantDirectory")

    tenants: list[DirectoryTenant]


SurveyResults.model_rebuild()
SurveySummary.model_rebuild()
