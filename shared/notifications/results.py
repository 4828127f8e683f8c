"""Survey results as differentially private releases: the released histograms of a
survey's answers, taken as scheduled snapshots, what is shown of them, the NPS trend of a series,
and the readers' report of every survey (`SurveyReport`).

Every decision about what may be shown is the disclosure package's (`shared.privacy.disclosure`,
module `surveys`): when a snapshot is due (at most `MAX_SNAPSHOTS` per survey, at times that
depend on the window, never on the answers), the release of every level's histogram
(`surveys.draw`, through `Releaser.counts`), and what is shown of it (`surveys.bucket`, `total`,
`nps`, `mean`; hidden is null, never 0). The release is stored in the survey's snapshot record and
every read computes the same figures from it. Comments go to authors only and are not covered by
the releases (docs/privacy-model.md, "What is not covered"); their labels keep the k rule
(`comment_labels`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.kernel.errors import BadRequest
from shared.kernel.settings import USER_TYPES
from shared.notifications.models import (
    NpsSeries,
    NpsTrendPoint,
    Question,
    ResultCell,
    ResultComment,
    SurveyReport,
    SurveyResults,
    SurveySummary,
    TenantKeys,
)
from shared.privacy.disclosure import comment_labels, fold_buckets, surveys
from shared.privacy.disclosure.releases import Releaser
from shared.storage.notifications import AnswerRecord, ItemRecord, NotificationStore, SnapshotRecord

OTHER = "(other)"
NPS_GROUPS = ("promoters", "passives", "detractors")
Clock = Callable[[], datetime]


class Results:
    """Results for authors (with comments) and readers (`survey_report`), from snapshots."""

    def __init__(
        self,
        store: NotificationStore,
        clock: Clock,
        *,
        k: int,
        tenants: TenantKeys | None,
        releaser: Releaser | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._k = k
        self._tenants = tenants
        self._releaser = releaser or Releaser(k)

    def results(self, item: ItemRecord, *, with_comments: bool) -> SurveyResults:
        if item.kind != "survey" or item.question is None:
            raise BadRequest("results exist for surveys only", code="not_a_survey")
        question = Question.model_validate(item.question)
        snapshot, answers = self._results_of(item, question)
        published = self._shown(question, snapshot)
        series = self._series_of(item, self._store.items() if item.series else [item])
        trend = self._trend(series, {item.item_id: published})
        comments = _comments(snapshot, published, answers) if with_comments else None
        return SurveyResults(
            id=item.item_id,
            question=question,
            k=self._k,
            **published.fields(),
            comments=comments,
            trend=trend,
            **self._freshness(item, snapshot),
        )

    def _freshness(self, item: ItemRecord, snapshot: Snapshot | None) -> dict[str, Any]:
        """How fresh the figures are: live only inside the window, and when the next snapshot
        may be taken (the first results, before any). `waiting` stays null: results are releases."""
        now = self._clock()
        taken = snapshot.index if snapshot else 0
        last = snapshot.taken_at if snapshot else None
        return {
            "live": item.status == "published" and item.starts_at <= now < item.ends_at,
            "waiting": None,
            "snapshot": taken,
            "renewable_at": surveys.renewable_at(item.starts_at, item.ends_at, taken, last),
        }

    def survey_report(self) -> SurveyReport:
        """Every survey ever published (newest first) with its results, and each series' NPS
        trend, for readers: the same snapshot as `results`, never comments. Costs one read of the
        items and one of each survey's answers (the snapshot is in that partition)."""
        items = [
            item
            for item in self._store.items()
            if item.kind == "survey" and item.question is not None and item.published_at is not None
        ]
        published: dict[str, Published] = {}
        snapshots: dict[str, Snapshot | None] = {}
        for item in items:
            question = Question.model_validate(item.question)
            snapshots[item.item_id], _ = self._results_of(item, question)
            published[item.item_id] = self._shown(question, snapshots[item.item_id])
        summaries = []
        for item in sorted(items, key=lambda i: (i.starts_at, i.item_id), reverse=True):
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
                    **self._freshness(item, snapshots[item.item_id]),
                )
            )
        names = sorted({item.series for item in items if item.series})
        trends = [
            NpsSeries(series=name, points=points)
            for name in names
            if (points := self._trend([i for i in items if i.series == name], published))
        ]
        return SurveyReport(k=self._k, surveys=summaries, trends=trends)

    def _results_of(self, item: ItemRecord, question: Question) -> tuple[Snapshot | None, list[AnswerRecord]]:
        """The survey's current snapshot (taking the one that is due, if any) and its answers, by
        *stable tenant key*: answers carry the tenant reference of the salt version they were
        given under, which a rotation changes, so every reference is mapped to its key
        (`Tenants.resolve_refs`) before the release: a tenant's people are one cell."""
        answers, record = self._store.answers_and_snapshot(item.item_id)
        if self._tenants is not None:
            keys = self._tenants.resolve_refs({a.tenant for a in answers})
            answers = [replace(a, tenant=keys[a.tenant]) for a in answers]
        return self._snapshot(item, question, answers, record), answers

    def _snapshot(
        self,
        item: ItemRecord,
        question: Question,
        answers: list[AnswerRecord],
        record: SnapshotRecord | None,
    ) -> Snapshot | None:
        """The survey's snapshot: a release of all its answers so far, taken at the first read at
        or after each of its `MAX_SNAPSHOTS` scheduled times (`surveys.due`: the window and the
        clock decide, never the answers) and stored; every other read returns the stored one.
        A snapshot of the k rule's time (before results were releases) is not a release: it is replaced by the
        first one due. Snapshots are aggregates (no key, value or comment of anyone) and are kept
        with the survey; erasure removes a person's answer and comment, not their share of a past
        release."""
        now = self._clock()
        snapshot = _stored(record)
        taken = snapshot.index if snapshot else 0
        last = snapshot.taken_at if snapshot else None
        index = surveys.due(item.starts_at, item.ends_at, now, taken, last)
        if not index:
            return snapshot
        domain = surveys.buckets(question.type, question.options)
        tenants = self._tenants.directory_keys() if self._tenants is not None else ()
        rows = [surveys.Answer(str(a.value), a.user_type, a.tenant) for a in answers]
        histograms = surveys.draw(self._releaser, domain, rows, USER_TYPES, tenants)
        types_shown, _ = fold_buckets(dict(Counter(a.user_type for a in answers)), self._k)
        tenants_shown, _ = fold_buckets(dict(Counter(a.tenant for a in answers)), self._k)
        fresh = Snapshot(
            index=index,
            taken_at=now,
            histograms=histograms,
            labels=comment_labels(
                Counter((a.tenant, a.user_type) for a in answers),
                set(types_shown),
                set(tenants_shown),
                self._k,
            ),
            types_shown=sorted(types_shown),
            tenants_shown=sorted(tenants_shown),
        )
        self._store.save_snapshot(SnapshotRecord(item.item_id, now, fresh.model_dump_json()))
        return fresh

    def _shown(self, question: Question, snapshot: Snapshot | None) -> Published:
        """What a snapshot shows (post-processing of its release; the same on every read)."""
        if snapshot is None:
            return Published()
        return shown(self._releaser, question, snapshot)

    @staticmethod
    def _series_of(item: ItemRecord, items: list[ItemRecord]) -> list[ItemRecord]:
        """The surveys of the item's series (just the item if it has none)."""
        if not item.series:
            return [item]
        return [i for i in items if i.series == item.series and i.kind == "survey"]

    def _trend(self, series: list[ItemRecord], known: dict[str, Published]) -> list[NpsTrendPoint]:
        """NPS per published NPS survey of a series, oldest first, from each survey's latest
        snapshot; a survey with no NPS shown has no point. Surveys already read (`known`) are not
        read again."""
        points = []
        for survey in sorted(series, key=lambda i: (i.starts_at, i.item_id)):
            if survey.question is None or survey.question.get("type") != "nps" or survey.published_at is None:
                continue
            published = known.get(survey.item_id)
            if published is None:
                question = Question.model_validate(survey.question)
                snapshot, _ = self._results_of(survey, question)
                published = self._shown(question, snapshot)
            if published.nps is None:
                continue
            points.append(
                NpsTrendPoint(
                    id=survey.item_id,
                    title=survey.title,
                    starts_at=survey.starts_at,
                    answers=published.answers,
                    answers_moe=published.answers_moe,
                    nps=published.nps,
                    nps_moe=published.nps_moe,
                )
            )
        return points


class Snapshot(BaseModel):
    """A stored snapshot: which of the survey's snapshots it is, when it was taken, the noisy
    histograms of its release (hidden values included, for the sums; never returned) and how the
    survey's comments are labelled (authors only, outside the releases)."""

    model_config = ConfigDict(title="SurveySnapshot")

    index: int
    taken_at: datetime
    histograms: surveys.Histograms
    labels: Literal["both", "tenant", "user_type"] = "tenant"
    types_shown: list[str] = Field(default_factory=list)
    tenants_shown: list[str] = Field(default_factory=list)


def _stored(record: SnapshotRecord | None) -> Snapshot | None:
    """The stored snapshot, or None (none yet, or one of the k rule's time, which is no release)."""
    if record is None:
        return None
    try:
        return Snapshot.model_validate_json(record.data)
    except ValidationError:
        return None


class Published(BaseModel):
    """What a snapshot shows: released figures (None where hidden) with their 95 % margins."""

    as_of: datetime | None = None
    answers: int | None = None
    answers_moe: float = 0.0
    suppressed: bool = True
    distribution: dict[str, int | None] = Field(default_factory=dict)
    distribution_moe: float = 0.0
    nps: float | None = None
    nps_moe: float | None = None
    nps_groups: dict[str, int | None] = Field(default_factory=dict)
    nps_groups_moe: dict[str, float] = Field(default_factory=dict)
    mean: float | None = None
    mean_moe: float | None = None
    by_user_type: list[ResultCell] = Field(default_factory=list)
    by_tenant: list[ResultCell] = Field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        return self.model_dump()


def _cell(releaser: Releaser, question: Question, key: str, histogram: dict[str, int]) -> ResultCell:
    answers = surveys.total(releaser, histogram.values())
    score, score_moe = _score(releaser, question, histogram) if answers.value is not None else (None, None)
    return ResultCell(
        key=key,
        answers=answers.value,
        moe=answers.moe,
        nps=score if question.type == "nps" else None,
        nps_moe=score_moe if question.type == "nps" else None,
        mean=score if question.type == "rating" else None,
        mean_moe=score_moe if question.type == "rating" else None,
    )


def _score(
    releaser: Releaser, question: Question, histogram: dict[str, int]
) -> tuple[float | None, float | None]:
    if question.type == "nps":
        return surveys.nps(releaser, histogram)
    if question.type == "rating":
        return surveys.mean(releaser, histogram)
    return None, None


def shown(releaser: Releaser, question: Question, snapshot: Snapshot) -> Published:
    """Everything a snapshot shows, computed from its noisy histograms only (post-processing):

    * `distribution`: every answer bucket, its noisy count where it clears the threshold, else
      null (never 0); `answers`: the sum of all buckets, hidden ones included, shown when it clears
      max(k, 1.645 sigma sqrt(buckets)) (`suppressed` when it does not: nothing else is shown).
    * `nps_groups`: sums of their buckets, shown like `answers`; `nps` / `mean`: from the noisy
      histogram clamped at 0.
    * `by_user_type` (every user type and `(none)`), `by_tenant` (the tenants whose answers are
      shown): each from its own histogram, as the totals.
    Every figure carries its 95 % margin of error."""
    histograms = snapshot.histograms
    domain = surveys.buckets(question.type, question.options)
    everyone = histograms.get("all", {}).get(surveys.ALL, {})
    answers = surveys.total(releaser, (everyone.get(b, 0) for b in domain))
    if answers.value is None:
        return Published(as_of=snapshot.taken_at, answers_moe=answers.moe)
    distribution: dict[str, int | None] = {}
    distribution_moe = 0.0
    for b in domain:
        figure = surveys.bucket(releaser, everyone.get(b, 0))
        distribution[b] = figure.value
        distribution_moe = figure.moe
    groups: dict[str, int | None] = {}
    groups_moe: dict[str, float] = {}
    if question.type == "nps":
        members: dict[str, list[int]] = {name: [] for name in NPS_GROUPS}
        for b in domain:
            members[_nps_group(int(b))].append(everyone.get(b, 0))
        for name in NPS_GROUPS:
            figure = surveys.total(releaser, members[name])
            groups[name], groups_moe[name] = figure.value, figure.moe
    score, score_moe = _score(releaser, question, everyone)
    by_type = [
        _cell(releaser, question, key, histograms.get("type", {}).get(key, {}))
        for key in [*USER_TYPES, surveys.NO_TYPE]
    ]
    by_tenant = [
        cell
        for key, histogram in sorted(histograms.get("tenant", {}).items())
        if (cell := _cell(releaser, question, key, histogram)).answers is not None
    ]
    return Published(
        as_of=snapshot.taken_at,
        answers=answers.value,
        answers_moe=answers.moe,
        suppressed=False,
        distribution=distribution,
        distribution_moe=distribution_moe,
        nps=score if question.type == "nps" else None,
        nps_moe=score_moe if question.type == "nps" else None,
        nps_groups=groups,
        nps_groups_moe=groups_moe,
        mean=score if question.type == "rating" else None,
        mean_moe=score_moe if question.type == "rating" else None,
        by_user_type=by_type,
        by_tenant=by_tenant,
    )


def _comments(
    snapshot: Snapshot | None, published: Published, answers: list[AnswerRecord]
) -> list[ResultComment]:
    """Comments of the answers in the snapshot (none while its answers are not shown), labelled as
    `comment_labels` decided, in the order of their text: never by key (one person would sit at
    the same place in every survey) nor by time. Authors only; outside the releases."""
    if snapshot is None or published.suppressed:
        return []
    as_of = snapshot.taken_at
    types, tenants = set(snapshot.types_shown), set(snapshot.tenants_shown)
    comments = [
        ResultComment(
            text=a.comment,
            user_type=(a.user_type if a.user_type in types else OTHER)
            if snapshot.labels in ("both", "user_type")
            else None,
            tenant=(a.tenant if a.tenant in tenants else OTHER)
            if snapshot.labels in ("both", "tenant")
            else None,
        )
        for a in answers
        if a.comment and a.answered_at <= as_of
    ]
    return sorted(comments, key=lambda c: (c.text.casefold(), c.text))


def _nps_group(score: int) -> str:
    """9-10 promoters, 7-8 passives, 0-6 detractors."""
    return "promoters" if score >= 9 else "passives" if score >= 7 else "detractors"
