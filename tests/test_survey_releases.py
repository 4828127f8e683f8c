"""Property tests (hypothesis) of the survey k rule (issue 13 review, point 4).

`shared.notifications.results.tally` (and the bucket rules of `shared.privacy.disclosure` it calls) is
compared with an independent brute-force count of random answers (random tenants, user types,
values and k): every published count of people is 0 or >= k, what is
kept plus what is folded is the total, and nothing published lets a count of 1..k-1 people be
worked out: for every set of cells, the total minus the shown cells; for NPS surveys, each shown
group minus its shown scores and the folded groups minus their shown scores (the published figures
form a hierarchy, so these remainders are exactly what can be derived); an NPS or mean only where
every group or rating it is made of has 0 or >= k people (then it adds nothing to the counts)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.notifications.models import Question
from shared.notifications.results import OTHER, Published, Results, tally
from shared.privacy.disclosure import SNAPSHOT_HOURS, fold_buckets, refine
from shared.storage.notifications import AnswerRecord, SnapshotRecord

TENANTS = ("t000000000000000a", "t000000000000000b", "t000000000000000c", "t000000000000000d")
TYPES = ("it_admin", "advanced_user", "basic_user")
OPTIONS = ["Search", "Catalogue", "Cases"]
QUESTIONS = {
    "nps": Question(type="nps", text="Recommend?"),
    "rating": Question(type="rating", text="Rate it"),
    "choice": Question(type="choice", text="Which?", options=OPTIONS),
}
VALUES = {"nps": st.integers(0, 10), "rating": st.integers(1, 5), "choice": st.sampled_from(OPTIONS)}
AT = datetime(2026, 11, 1, tzinfo=UTC)


def group_of(score: int) -> str:
    return "promoters" if score >= 9 else "passives" if score >= 7 else "detractors"


@st.composite
def surveys(draw: st.DrawFn) -> tuple[str, list[AnswerRecord], int]:
    kind = draw(st.sampled_from(sorted(QUESTIONS)))
    k = draw(st.integers(2, 6))
    # few tenants/values with skewed weights, so that cells both under and over k are common
    tenants = draw(st.lists(st.sampled_from(TENANTS), min_size=1, max_size=4, unique=True))
    people = draw(
        st.lists(
            st.tuples(st.sampled_from(tenants), st.sampled_from(TYPES), VALUES[kind]),
            min_size=0,
            max_size=60,
        )
    )
    answers = [
        AnswerRecord(f"{i:032x}", f"n{i:032x}", tenant, user_type, "v1", value, None, AT)
        for i, (tenant, user_type, value) in enumerate(people)
    ]
    return kind, answers, k


def small(n: int, k: int) -> bool:
    """A count of people the k rule forbids."""
    return 0 < n < k


def check_cells(cells: list, key: str, answers: list[AnswerRecord], kind: str, k: int) -> None:
    truth = Counter(getattr(a, key) for a in answers)
    shown = {c.key: c.answers for c in cells if c.key != OTHER}
    other = sum(c.answers for c in cells if c.key == OTHER)
    for name, n in shown.items():
        assert n == truth[name] and n >= k
    assert not small(other, k)
    assert sum(shown.values()) + other == len(answers)  # kept + folded = total
    assert not small(len(answers) - sum(shown.values()), k)  # total - shown cells
    # a cell's NPS/mean only where every (cell, group or rating) count of the breakdown is 0 or >= k
    if any(c.nps is not None or c.mean is not None for c in cells):
        assert kind != "choice"
        members: dict[str, Counter[str]] = {}
        for a in answers:
            cell = getattr(a, key) if getattr(a, key) in shown else OTHER
            atom = group_of(int(a.value)) if kind == "nps" else str(a.value)
            members.setdefault(cell, Counter())[atom] += 1
        for atoms in members.values():
            assert not any(small(n, k) for n in atoms.values()), members
        for c in cells:
            rows = [a for a in answers if (getattr(a, key) if getattr(a, key) in shown else OTHER) == c.key]
            if kind == "nps":
                p = sum(1 for a in rows if int(a.value) >= 9)
                d = sum(1 for a in rows if int(a.value) <= 6)
                assert c.nps == round(100.0 * (p - d) / len(rows), 1)
            else:
                assert c.mean == round(sum(int(a.value) for a in rows) / len(rows), 2)


@settings(max_examples=400, deadline=None)
@given(surveys())
def test_tally_never_publishes_or_gives_away_a_count_under_k(
    survey: tuple[str, list[AnswerRecord], int],
) -> None:
    kind, answers, k = survey
    out: Published = tally(QUESTIONS[kind], answers, k)
    n = len(answers)
    if n < k:
        assert out == Published() and out.suppressed and out.answers == 0
        return
    assert not out.suppressed and out.answers == n
    values = Counter(str(a.value) for a in answers)
    groups = Counter(group_of(int(a.value)) for a in answers) if kind == "nps" else Counter()

    # the distribution: shown buckets are true counts >= k; (other) is the rest and 0 or >= k
    shown = {key: c for key, c in out.distribution.items() if key != OTHER}
    for key, c in shown.items():
        assert c == values[key] and c >= k
    assert sum(out.distribution.values()) == n
    assert not small(out.distribution.get(OTHER, 0), k)
    assert OTHER not in out.distribution or out.distribution[OTHER] > 0

    if kind == "nps":
        kept = {g: c for g, c in out.nps_groups.items() if g != OTHER}
        for g, c in kept.items():
            assert c == groups[g] and c >= k
        assert sum(out.nps_groups.values()) == n
        assert not small(out.nps_groups.get(OTHER, 0), k)
        # what a reader can subtract: a shown group minus its shown scores, and the folded groups
        # together minus their shown scores
        for g, c in kept.items():
            assert not small(c - sum(v for s, v in shown.items() if group_of(int(s)) == g), k)
        folded = out.nps_groups.get(OTHER, 0)
        assert not small(folded - sum(v for s, v in shown.items() if group_of(int(s)) not in kept), k)
        # NPS: exactly when no group is 1..k-1, and then the one the shown groups give
        clean = not any(small(c, k) for c in groups.values())
        assert (out.nps is not None) == clean
        if clean:
            assert OTHER not in out.nps_groups
            expected = round(100.0 * (groups["promoters"] - groups["detractors"]) / n, 1)
            assert out.nps == expected
            assert out.nps == round(100.0 * (kept.get("promoters", 0) - kept.get("detractors", 0)) / n, 1)
    else:
        assert out.nps is None and out.nps_groups == {}

    if kind == "rating":
        clean = not any(small(c, k) for c in values.values())
        assert (out.mean is not None) == clean
        if clean:
            assert OTHER not in out.distribution
            assert out.mean == round(sum(int(s) * c for s, c in shown.items()) / n, 2)
    else:
        assert out.mean is None

    check_cells(out.by_user_type, "user_type", answers, kind, k)
    check_cells(out.by_tenant, "tenant", answers, kind, k)

    # comment labels: both only where every (tenant, user type) pair has >= k answers
    if out.labels == "both":
        pairs = Counter((a.tenant, a.user_type) for a in answers)
        assert all(c >= k for c in pairs.values())
        assert set(out.tenants_shown) == {a.tenant for a in answers}
        assert set(out.types_shown) == {a.user_type for a in answers}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(0, 12), max_size=8), st.integers(1, 6))
def test_fold_keeps_big_cells_and_a_remainder_of_0_or_at_least_k(counts: dict[str, int], k: int) -> None:
    assume(sum(counts.values()) >= k)  # callers show nothing of fewer than k answers
    shown, other = fold_buckets(counts, k)
    assert all(counts[key] == n and n >= k for key, n in shown.items())
    assert sum(shown.values()) + other == sum(counts.values())
    assert not small(other, k)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10), max_size=60), st.integers(2, 6))
def test_refine_leaves_no_small_remainder_in_any_block(scores: list[int], k: int) -> None:
    assume(len(scores) >= k)  # callers show nothing of fewer than k answers
    counts = dict(Counter(str(s) for s in scores))
    groups = Counter(group_of(s) for s in scores)
    kept_groups, _ = fold_buckets(dict(groups), k)
    shown, _ = fold_buckets(counts, k)
    refined = refine(counts, shown, {key: group_of(int(key)) for key in counts}, set(kept_groups), k)
    assert set(refined) <= set(shown)
    for block in [*kept_groups, OTHER]:
        members = [
            key
            for key in counts
            if (group_of(int(key)) if group_of(int(key)) in kept_groups else OTHER) == block
        ]
        assert not small(sum(counts[key] for key in members if key not in refined), k)


class SnapshotOnly:
    """The one store method `Results._publish` uses: keep the survey's snapshot."""

    def __init__(self) -> None:
        self.snapshot: SnapshotRecord | None = None

    def save_snapshot(self, snapshot: SnapshotRecord) -> None:
        self.snapshot = snapshot


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 14), st.integers(0, 10), st.integers(0, 240), st.booleans()),
        min_size=1,
        max_size=80,
    ),
    st.integers(2, 6),
)
def test_two_published_snapshots_differ_by_at_least_k_peoples_answers(
    events: list[tuple[int, int, int, bool]], k: int
) -> None:
    """Random answers (person, score, minutes later, read results?): whatever the polling, two
    different published results are >= SNAPSHOT_HOURS apart and between them at least k people
    answered or changed their answer, so no difference is one person's answer."""
    clock = {"now": AT}
    store = SnapshotOnly()
    survey = Results(store, lambda: clock["now"], k=k, tenants=None)  # type: ignore[arg-type]
    question = QUESTIONS["nps"]
    current: dict[int, AnswerRecord] = {}
    history: list[tuple[datetime, int]] = []  # (when, who) of every answer given
    seen: list[Published] = []
    for person, score, minutes, read in events:
        clock["now"] += timedelta(minutes=minutes)
        current[person] = AnswerRecord(
            "i" * 32, f"n{person:032x}", TENANTS[0], TYPES[0], "v1", score, None, clock["now"]
        )
        history.append((clock["now"], person))
        if read:
            published = survey._publish("i" * 32, question, list(current.values()), store.snapshot)
            assert published.suppressed == (published.as_of is None)
            if published.suppressed:
                assert len(current) < k and not seen
            elif not seen or published != seen[-1]:
                seen.append(published)
    for before, after in itertools.pairwise(seen):
        assert before.as_of is not None and after.as_of is not None
        assert after.as_of - before.as_of >= timedelta(hours=SNAPSHOT_HOURS)
        changed = {who for when, who in history if before.as_of < when <= after.as_of}
        assert len(changed) >= k
