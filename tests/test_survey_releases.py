"""Survey results as differentially private releases (docs/notifications.md "Results").

Exact mode (`Releaser(k, noise=False)`) for the structure: every bucket of the question's domain
is released, a shown figure is the exact count (>= k), a hidden one is null (never 0), sums and
NPS / mean are post-processing of the released histograms. With noise (`Releaser(5)`): the
snapshot-differencing attack of the audit no longer recovers the answers of the people in
between, a survey has at most `MAX_SNAPSHOTS` snapshots, and a stored release reads the same
every time."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.kernel.settings import USER_TYPES
from shared.notifications.models import Question
from shared.notifications.results import Snapshot, shown
from shared.privacy.disclosure import MAX_SNAPSHOTS, SNAPSHOT_HOURS, surveys
from shared.privacy.disclosure.releases import SURVEY_ANSWERS, Releaser

TENANTS = ("t000000000000000a", "t000000000000000b", "t000000000000000c", "t000000000000000d")
TYPES = (*USER_TYPES, "unknown")
OPTIONS = ["Search", "Catalogue", "Cases"]
QUESTIONS = {
    "nps": Question(type="nps", text="Recommend?"),
    "rating": Question(type="rating", text="Rate it"),
    "choice": Question(type="choice", text="Which?", options=OPTIONS),
}
VALUES = {"nps": st.integers(0, 10), "rating": st.integers(1, 5), "choice": st.sampled_from(OPTIONS)}
AT = datetime(2026, 11, 1, tzinfo=UTC)


def release(releaser: Releaser, question: Question, answers: list[surveys.Answer]) -> Snapshot:
    domain = surveys.buckets(question.type, question.options)
    histograms = surveys.draw(releaser, domain, answers, USER_TYPES, TENANTS[:2])
    return Snapshot(index=1, taken_at=AT, histograms=histograms)


@st.composite
def answered(draw: st.DrawFn) -> tuple[str, list[surveys.Answer], int]:
    kind = draw(st.sampled_from(sorted(QUESTIONS)))
    k = draw(st.integers(2, 6))
    people = draw(
        st.lists(
            st.tuples(VALUES[kind], st.sampled_from(TYPES), st.sampled_from(TENANTS)), min_size=0, max_size=60
        )
    )
    return kind, [surveys.Answer(str(v), t, tenant) for v, t, tenant in people], k


@settings(max_examples=300, deadline=None)
@given(answered())
def test_exact_mode_shows_counts_of_k_or_more_and_hidden_is_null_never_0(
    survey: tuple[str, list[surveys.Answer], int],
) -> None:
    kind, answers, k = survey
    releaser = Releaser(k, noise=False)
    question = QUESTIONS[kind]
    out = shown(releaser, question, release(releaser, question, answers))
    n = len(answers)
    if n < k:
        assert out.suppressed and out.answers is None and out.distribution == {} and out.by_user_type == []
        return
    assert not out.suppressed and out.answers == n
    truth = Counter(a.bucket for a in answers)
    domain = surveys.buckets(kind, question.options)
    assert list(out.distribution) == list(domain)  # every bucket, whatever the answers
    for bucket, value in out.distribution.items():
        assert value == (truth[bucket] if truth[bucket] >= k else None)
    if kind == "nps":
        groups = Counter(
            "promoters" if int(a.bucket) >= 9 else "passives" if int(a.bucket) >= 7 else "detractors"
            for a in answers
        )
        assert out.nps_groups == {
            g: (groups[g] if groups[g] >= k else None)
            for g in groups | {"promoters": 0, "passives": 0, "detractors": 0}
        }
        assert out.nps == round(100 * (groups["promoters"] - groups["detractors"]) / n, 1)
    if kind == "rating":
        assert out.mean == round(sum(int(a.bucket) for a in answers) / n, 2)
    if kind == "choice":
        assert out.nps is None and out.mean is None and out.nps_groups == {}
    types = Counter(a.user_type if a.user_type in USER_TYPES else "(none)" for a in answers)
    assert [c.key for c in out.by_user_type] == [*USER_TYPES, "(none)"]
    for cell in out.by_user_type:
        assert cell.answers == (types[cell.key] if types[cell.key] >= k else None)
        assert (cell.nps is not None) == (cell.answers is not None and kind == "nps")
    tenants = Counter(a.tenant for a in answers)
    assert {c.key: c.answers for c in out.by_tenant} == {t: m for t, m in tenants.items() if m >= k}
    figures = [out.answers, *out.distribution.values(), *out.nps_groups.values()]
    figures += [c.answers for c in out.by_user_type + out.by_tenant]
    assert 0 not in figures and all(v is None or v >= k for v in figures)


def test_snapshot_differencing_no_longer_recovers_the_answers_in_between() -> None:
    """The audit's attack: snapshots {9: 5, 10: 5} then {9: 6, 10: 9} gave the 5 people in
    between as {10: 4, 9: 1}. With noise, the difference of two releases recovers that exactly in
    well under 10 % of runs (here: around 40 other answers in each bucket, so they are shown)."""
    releaser = Releaser(5)
    question = QUESTIONS["nps"]
    base = [surveys.Answer(b, "basic_user", TENANTS[0]) for b in ("9", "10") for _ in range(40)]
    before = (
        base
        + [surveys.Answer("9", "it_admin", TENANTS[1])] * 5
        + [surveys.Answer("10", "it_admin", TENANTS[1])] * 5
    )
    after = (
        before
        + [surveys.Answer("9", "it_admin", TENANTS[1])]
        + [surveys.Answer("10", "it_admin", TENANTS[1])] * 4
    )
    recovered = 0
    for _ in range(200):
        a = shown(releaser, question, release(releaser, question, before))
        b = shown(releaser, question, release(releaser, question, after))
        diff = {}
        for bucket in ("9", "10"):
            x, y = a.distribution.get(bucket), b.distribution.get(bucket)
            diff[bucket] = None if x is None or y is None else y - x
        recovered += diff == {"9": 1, "10": 4}
    assert recovered < 20, recovered
    # and every figure carries its margin: sigma 12 → 24 for a bucket
    assert surveys.margin(SURVEY_ANSWERS[0].scale) == 24.0
    assert b.suppressed or b.distribution_moe == 24.0


def test_a_survey_has_at_most_four_snapshots_at_data_independent_times() -> None:
    rng = random.Random(7)
    for _ in range(200):
        starts = AT
        ends = starts + timedelta(hours=rng.randint(1, 24 * 60))
        now, taken, last, snapshots = starts - timedelta(hours=1), 0, None, []
        while now < ends + timedelta(days=30):
            now += timedelta(minutes=rng.randint(1, 6000))
            index = surveys.due(starts, ends, now, taken, last)
            if index:
                assert index > taken and (last is None or now - last >= timedelta(hours=SNAPSHOT_HOURS))
                assert now >= surveys.schedule(starts, ends)[index - 1]
                taken, last = index, now
                snapshots.append(now)
        assert 1 <= len(snapshots) <= MAX_SNAPSHOTS
        assert surveys.renewable_at(starts, ends, taken, last) is None or taken < MAX_SNAPSHOTS
    t = surveys.schedule(AT, AT + timedelta(days=8))
    assert t == [AT + timedelta(days=2 * i) for i in range(1, 5)]
    assert surveys.due(AT, AT + timedelta(days=8), t[0] - timedelta(seconds=1), 0, None) == 0
    assert surveys.renewable_at(AT, AT + timedelta(days=8), 0, None) == t[0]


def test_noisy_results_read_the_same_twice_and_hide_with_null(make_client) -> None:
    from tests.test_notifications import (
        AUTHOR,
        FIRST,
        NO_CADENCE,
        READER,
        TENANT_A,
        answer_as,
        create,
        nps_question,
    )

    client = make_client(RELEASE_NOISE="true", **NO_CADENCE)
    survey = create(client, kind="survey", question=nps_question(), link=None)
    answer_as(client, survey, [(10, TENANT_A, (), None)] * 3 + [(3, TENANT_A, (), None)] * 2)
    client.clock.advance(**FIRST)
    first = client.get(f"/api/authoring/items/{survey['id']}/results", principal=AUTHOR).json()
    assert first["snapshot"] == 1 and first["answers_moe"] > 0
    again = client.get(f"/api/authoring/items/{survey['id']}/results", principal=READER).json()
    for field in ("as_of", "answers", "distribution", "nps", "nps_groups", "by_user_type", "by_tenant"):
        assert again[field] == first[field], field
    values = [first["answers"], *first["distribution"].values(), *first["nps_groups"].values()]
    assert 0 not in values  # hidden is null
