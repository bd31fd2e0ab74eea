"""The digest's figures against a fixture week whose numbers were worked out by hand.

The fixture (``NOW`` is Monday 23 Nov 2026, 09:00 UTC; "this week" is the 7 days before it):

=====  ==========  =======  =========  ======  =====================  ======================
item   created     route    predicted  answer  time to answer (s)     votes (label)
=====  ==========  =======  =========  ======  =====================  ======================
A1     -6 d        review   fraud      fraud   3,600                  U1 fraud, U2 fraud
A2     -5 d        review   fraud      legit   7,200                  U1 legit, U2 legit
A3     -4 d        review   legit      legit   14,400                 U1 legit, U2 legit
A4     -3 d        review   fraud      —       posted, unanswered     U3 fraud, undone
A5     -2 d        audit    legit      legit   36,000 (p = 0.10)      U2 legit, U3 legit
A6     -1 d        audit    legit      tie     3,600  (p = 0.10)      U2 legit, U3 fraud
A8     -9 d        audit    legit      fraud   216,000 (p = 0.05)     U1 fraud, U2 fraud
A9-12  -1 d        auto     legit
A13    -0.5 d      review   fraud      —       waiting to be posted
A14    -7 d exact  auto     legit                                     (on the boundary: this week)
L1     -13 d       review   fraud      fraud   600                    U1 fraud, U2 fraud
L2     -12 d       auto     legit
L3     -10 d       review   fraud      —       posted, unanswered
O1     -100 d      audit    legit      legit   (outside the 12 weeks)
=====  ==========  =======  =========  ======  =====================  ======================

A8 came in last week and was answered this week. Versions: v1 promoted 20 days ago, v2 promoted
2 days ago (trusted hold-out 0.85 → 0.90), v3 rejected yesterday. Another queue has an item this
week that must not be counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.figures import HISTORY_WEEKS, digest_figures
from models.estimates import Estimate, weighted_proportion
from storage.tables import Item, ModelVersion, Prediction, Review, ReviewMessage
from tests.factories import make_config

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
QUEUE = make_config(fraud={"votes_required": 2}).queue("fraud")


def at(days: float) -> datetime:
    return NOW + DAY * days


class Fixture:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.versions: dict[str, ModelVersion] = {}
        self.n = 0

    def version(self, number: int, state: str, **kw: object) -> ModelVersion:
        row = ModelVersion(
            queue="fraud",
            number=number,
            version=f"fraud-v{number}",
            kind="tabular",
            state=state,
            artifact=b"x",
            sha256="0" * 64,
            labels={"labels": ["legit", "fraud"]},
            n_train=10,
            metrics=kw.pop("metrics", {}),
            info=kw.pop("info", {}),
            **kw,
        )
        self.session.add(row)
        self.session.flush()
        self.versions[row.version] = row
        return row

    def item(
        self,
        external_id: str,
        created: float,
        route: str,
        predicted: str,
        *,
        queue: str = "fraud",
        p: float = 1.0,
        state: str | None = None,
        posted: float | None = None,
        answered_after: float | None = None,
        answer: str | None = None,
        votes: tuple[tuple[str, str], ...] = (),
    ) -> Item:
        item = Item(queue=queue, external_id=external_id, payload={}, context={})
        item.created_at = at(created)
        self.session.add(item)
        self.session.flush()
        self.session.add(
            Prediction(
                item_id=item.id,
                model_version_id=self.versions["fraud-v1"].id,
                label=predicted,
                confidence=0.6 if route == "review" else 0.95,
                route=route,
                audit_probability=p if route == "audit" else (1.0 if route == "review" else 0.0),
                scored_at=at(created),
            )
        )
        resolved = None
        if answered_after is not None:
            resolved = at(created if posted is None else posted) + timedelta(seconds=answered_after)
            item.resolved_at, item.resolved_label = resolved, answer
        if state is not None or resolved is not None:
            self.session.add(
                ReviewMessage(
                    item_id=item.id,
                    queue=queue,
                    channel="C0REVIEW",
                    state=state or "resolved",
                    priority=0.0,
                    ts=None if state == "waiting" else f"1700000000.{item.id:06d}",
                    posted_at=None if state == "waiting" else at(created),
                    resolved_at=resolved,
                )
            )
        for user, label in votes:
            self.n += 1
            self.session.add(
                Review(
                    item_id=item.id,
                    user_id=user,
                    action="vote",
                    label=label,
                    source="slack_button",
                    request_key=f"k{self.n}",
                    created_at=resolved or at(created),
                )
            )
        self.session.flush()
        return item


@pytest.fixture
def fixture_week(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        f = Fixture(session)
        f.version(1, "retired", promoted_at=at(-20), created_at=at(-20))
        gate = [{"name": "trusted_holdout", "candidate": 0.90, "current": 0.85, "n": 40}]
        f.version(2, "current", promoted_at=at(-2), created_at=at(-2), metrics={"gate": gate})
        f.version(
            3,
            "rejected",
            created_at=at(-1),
            metrics={"gate": [{"name": "trusted_holdout", "candidate": 0.7, "current": 0.9}]},
            info={"reason": "worse on recent_labels"},
        )
        both = lambda label: (("U1", label), ("U2", label))  # noqa: E731
        f.item(
            "A1", -6, "review", "fraud", answered_after=3600, answer="fraud", votes=both("fraud")
        )
        f.item(
            "A2", -5, "review", "fraud", answered_after=7200, answer="legit", votes=both("legit")
        )
        f.item(
            "A3", -4, "review", "legit", answered_after=14400, answer="legit", votes=both("legit")
        )
        a4 = f.item("A4", -3, "review", "fraud", state="posted", votes=(("U3", "fraud"),))
        vote = session.query(Review).filter_by(item_id=a4.id).one()
        session.add(
            Review(
                item_id=a4.id,
                user_id="U3",
                action="undo",
                undoes_id=vote.id,
                source="slack_button",
                request_key="undo-a4",
                created_at=at(-2.9),
            )
        )
        f.item(
            "A5",
            -2,
            "audit",
            "legit",
            p=0.10,
            answered_after=36000,
            answer="legit",
            votes=(("U2", "legit"), ("U3", "legit")),
        )
        f.item(
            "A6",
            -1,
            "audit",
            "legit",
            p=0.10,
            answered_after=3600,
            answer=None,
            votes=(("U2", "legit"), ("U3", "fraud")),
        )
        f.item(
            "A8",
            -9,
            "audit",
            "legit",
            p=0.05,
            answered_after=216000,
            answer="fraud",
            votes=both("fraud"),
        )
        for i in range(9, 13):
            f.item(f"A{i}", -1, "auto", "legit")
        f.item("A13", -0.5, "review", "fraud", state="waiting")
        f.item("A14", -7, "auto", "legit")
        f.item(
            "L1", -13, "review", "fraud", answered_after=600, answer="fraud", votes=both("fraud")
        )
        f.item("L2", -12, "auto", "legit")
        f.item("L3", -10, "review", "fraud", state="posted")
        f.item("O1", -100, "audit", "legit", p=0.1, answered_after=60, answer="legit")
        f.item("X1", -1, "review", "fraud", queue="other", answered_after=60, answer="legit")


@pytest.fixture
def figures(fixture_week: None, sessions: sessionmaker[Session]):
    with sessions.begin() as session:
        return digest_figures(session=session, queue=QUEUE, now=NOW)


def test_this_week_volumes(figures) -> None:
    week = figures.this_week
    assert (week.start, week.end) == (at(-7), NOW)
    assert week.items == 12
    assert week.routed == {"review": 5, "audit": 2, "auto": 5}
    assert week.answered == 6  # A1 A2 A3 A5 A6 (a tie is answered) A8
    assert not week.empty


def test_time_to_answer(figures) -> None:
    # 3600, 3600, 7200, 14400, 36000, 216000 → median (7200 + 14400) / 2, p90 at position 4.5
    assert figures.this_week.answer_seconds_median == 10800
    assert figures.this_week.answer_seconds_p90 == pytest.approx(36000 + 0.5 * 180000)
    assert figures.last_week.answer_seconds_median == 600
    assert figures.last_week.answer_seconds_p90 == 600


def test_accuracy_of_automatic_decisions_is_weighted(figures) -> None:
    """Each vote on an audit is an answer, weighing 1/p shared among its item's 2 votes: A5's
    two votes agree (weight 1/0.10 each, halved), A8's two disagree (1/0.05, halved), A6's tie
    one of each. No control answers yet: not corrected for reviewer error, and it says so."""
    accuracy = figures.this_week.automatic_accuracy
    assert accuracy.value == pytest.approx(15 / 40)
    assert accuracy.n == 6
    hits, weights = [True, True, True, False, False, False], [5.0, 5.0, 5.0, 5.0, 10.0, 10.0]
    assert accuracy == weighted_proportion(hits, weights)
    assert figures.this_week.automatic_agreement == accuracy
    assert figures.this_week.accuracy_note == (
        "not corrected for reviewer error: 0 control answers and 6 cross-checked audit answers"
        " so far, 20 needed"
    )
    assert figures.last_week.automatic_accuracy == Estimate.unmeasured()


def test_confirmed_alerts(figures) -> None:
    # Alerts answered this week: A1 confirmed, A2 rejected. Legit calls (A3, A5, A8) do not count.
    assert (figures.this_week.confirmed.value, figures.this_week.confirmed.n) == (0.5, 2)
    assert (figures.last_week.confirmed.value, figures.last_week.confirmed.n) == (1.0, 1)


def test_reviewer_agreement(figures) -> None:
    # Rows (legit, fraud): A1 (0,2) A2 (2,0) A3 (2,0) A5 (2,0) A6 (1,1) A8 (0,2):
    # P̄ = 5/6, p_e = (7/12)² + (5/12)² = 37/72, kappa = (5/6 - 37/72) / (1 - 37/72) = 23/35.
    assert figures.this_week.agreement == pytest.approx(23 / 35)
    assert figures.this_week.agreement_items == 6
    # One item where both said fraud: chance agreement is already perfect, kappa is undefined.
    assert figures.last_week.agreement is None


def test_answers_per_reviewer_leave_out_undone_votes(figures) -> None:
    assert figures.this_week.answers_by_reviewer == {"U2": 6, "U1": 4, "U3": 2}
    assert list(figures.this_week.answers_by_reviewer) == ["U2", "U1", "U3"]
    assert figures.last_week.answers_by_reviewer == {"U1": 1, "U2": 1}


def test_last_week_volumes(figures) -> None:
    week = figures.last_week
    assert week.items == 4  # L1 L2 L3 A8
    assert week.routed == {"review": 2, "audit": 1, "auto": 1}
    assert week.answered == 1


def test_versions_and_backlog(figures) -> None:
    changes = [(v.version, v.outcome) for v in figures.this_week.versions]
    assert changes == [("fraud-v2", "promoted"), ("fraud-v3", "rejected")]
    promoted, rejected = figures.this_week.versions
    assert (promoted.metric, promoted.before, promoted.after) == ("average_precision", 0.85, 0.90)
    assert promoted.reason is None
    assert rejected.reason == "worse on recent_labels"
    assert figures.last_week.versions == []
    assert figures.model_version == "fraud-v2"
    assert figures.backlog == 3  # A4 and L3 posted, A13 waiting
    assert figures.oldest_waiting == at(-10)
    assert not figures.new_queue


def test_history_has_twelve_weeks_ending_with_this_one(figures) -> None:
    history = figures.history
    assert len(history) == HISTORY_WEEKS
    assert history[-1].start == at(-7) and history[0].start == at(-7 * HISTORY_WEEKS)
    assert [w.answered for w in history] == [0] * 10 + [1, 6]
    assert history[-1].automatic_accuracy == figures.this_week.automatic_accuracy
    assert all(w.automatic_accuracy.n == 0 for w in history[:-1])  # O1 is 100 days old


def test_a_new_queue_says_so(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        figures = digest_figures(session=session, queue=QUEUE, now=NOW)
    assert figures.new_queue and figures.model_version is None
    assert figures.this_week.empty and figures.last_week.empty
    assert figures.backlog == 0 and figures.oldest_waiting is None
    assert figures.this_week.answer_seconds_median is None
    assert figures.this_week.automatic_accuracy == Estimate.unmeasured()


def test_a_first_model_is_listed_with_its_hold_out_score(sessions) -> None:
    with sessions.begin() as session:
        Fixture(session).version(
            1,
            "current",
            promoted_at=at(-1),
            created_at=at(-1),
            metrics={"holdout": {"average_precision": 0.879, "accuracy": 0.97}},
        )
    with sessions.begin() as session:
        [change] = digest_figures(session=session, queue=QUEUE, now=NOW).this_week.versions
    assert (change.version, change.outcome, change.metric) == (
        "fraud-v1",
        "promoted",
        "average_precision",
    )
    assert (change.before, change.after) == (None, 0.879)


def test_a_rollback_is_listed_as_one_not_as_a_promotion(sessions) -> None:
    """Reported: the digest listed `hitl rollback fraud fraud-v1` as "Promoted fraud-v1 (first
    model)", because a rollback stamped the version as promoted again."""
    from storage.pins import pin
    from storage.tables import QueuePin

    with sessions.begin() as session:
        fixture = Fixture(session)
        fixture.version(1, "retired", promoted_at=at(-30), created_at=at(-30))
        fixture.version(2, "current", promoted_at=at(-2), created_at=at(-2))
        pin(session=session, queue="fraud", version="fraud-v1", by="alice")
        session.query(QueuePin).update({"pinned_at": at(-1)})
    with sessions.begin() as session:
        figures = digest_figures(session=session, queue=QUEUE, now=NOW)
    changes = [(c.version, c.outcome, c.by, c.pinned) for c in figures.this_week.versions]
    assert changes == [
        ("fraud-v2", "promoted", None, False),
        ("fraud-v1", "rolled_back", "alice", True),
    ]
    assert figures.model_version == "fraud-v1"
    marks = [(m.version, m.rollback) for m in figures.marks]
    assert marks == [("fraud-v1", False), ("fraud-v2", False), ("fraud-v1", True)]
