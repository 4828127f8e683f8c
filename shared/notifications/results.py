"""Survey results under the k rule: the tally of a survey's answers, its snapshot, the NPS trend of a
series, and the readers' report of every survey (`SurveyReport`).

Results obey the k rule of the aggregates: no count of 1..k-1 people is shown *or can be worked
out* from what is shown; smaller cells are folded into `(other)` (and if that remainder is
itself under k, the next smallest cell joins it), an NPS or mean is shown only where no group
or rating had to be folded, a survey with fewer than k answers shows nothing. Results are a
snapshot renewed only after k new answers (no live differencing). Comments go to authors only,
labelled with a tenant and/or user type only where that cell (and pair) has at least k answers.
Every one of these decisions is the disclosure package's (`shared.privacy.disclosure`, module
`buckets`); `tally` and `Results._publish` only assemble what it allows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.kernel.errors import BadRequest
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
from shared.privacy.disclosure import (
    SNAPSHOT_HOURS,
    breakdown_figures_publishable,
    comment_labels,
    figure_publishable,
    fold_buckets,
    refine,
    snapshot_renewable,
    survey_publishable,
)
from shared.privacy.tenants import KEY_PATTERN
from shared.storage.notifications import AnswerRecord, ItemRecord, NotificationStore, SnapshotRecord

OTHER = "(other)"
NPS_GROUPS = ("promoters", "passives", "detractors")
Clock = Callable[[], datetime]


class Results:
    """Results for authors (with comments) and readers (`survey_report`), from snapshots."""

    def __init__(self, store: NotificationStore, clock: Clock, *, k: int, tenants: TenantKeys | None) -> None:
        self._store = store
        self._clock = clock
        self._k = k
        self._tenants = tenants

    def results(self, item: ItemRecord, *, with_comments: bool) -> SurveyResults:
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
            **self._freshness(item, published, answers),
        )

    def _freshness(
        self, item: ItemRecord, published: Published, answers: list[AnswerRecord]
    ) -> dict[str, Any]:
        """How fresh the figures are: live only inside the window, and when the snapshot may be
        renewed (it also needs k new answers: `snapshot_renewable`). No count of the answers
        waiting since the snapshot (issue 23): a fresh count per query would be a release drawn
        on every read, and the sum of the survey's released "answered" reach days after the
        snapshot's day could clear its threshold only once the snapshot is renewable anyway (it
        would always be hidden), so `waiting` is null."""
        now = self._clock()
        since = published.as_of
        return {
            "live": item.status == "published" and item.starts_at <= now < item.ends_at,
            "waiting": None,
            "renewable_at": None if since is None else since + timedelta(hours=SNAPSHOT_HOURS),
        }

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
        answered: dict[str, list[AnswerRecord]] = {}
        for item in surveys:
            question = Question.model_validate(item.question)
            published[item.item_id], answered[item.item_id] = self._results_of(item.item_id, question)
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
                    **self._freshness(item, published[item.item_id], answered[item.item_id]),
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


def nps(values: Iterable[int]) -> float | None:
    scores = list(values)
    if not scores:
        return None
    promoters = sum(1 for v in scores if v >= 9)
    detractors = sum(1 for v in scores if v <= 6)
    return round(100.0 * (promoters - detractors) / len(scores), 1)


def _nps_group(score: int) -> str:
    """9-10 promoters, 7-8 passives, 0-6 detractors."""
    return "promoters" if score >= 9 else "passives" if score >= 7 else "detractors"


def _mean(rows: list[AnswerRecord]) -> float | None:
    values = [int(a.value) for a in rows]
    return round(sum(values) / len(values), 2) if values else None


def _bucket_order(question: Question, shown: dict[str, int]) -> list[str]:
    if question.type == "choice":
        return [o for o in question.options or [] if o in shown]
    return sorted(shown, key=int)
