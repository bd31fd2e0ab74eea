"""Queue figures on a hand-made set of answers, checked against numbers computed by hand."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from bot.digest.figures import digest_figures
from bot.digest.stats import queue_stats
from models.registry import load_current
from storage.items import NewItem, add_items
from tests.factories import make_config, seed_model, vote


def test_audit_accuracy_and_precision_from_answered_audits(sessions):
    seed_model(sessions)
    queue = make_config(fraud={"audit_rate": 0.5}).queue("fraud")
    # (predicted, people's answer, route, sampling probability)
    rows = [
        ("legit", "legit", "audit", 0.5),
        ("legit", "fraud", "audit", 0.25),  # a miss, drawn with a smaller chance: weight 4
        ("fraud", "fraud", "audit", 0.5),
        ("legit", "legit", "review", 1.0),  # review answers do not enter the audit estimate
        ("legit", None, "auto", 0.5),
    ]
    with sessions.begin() as session:
        version, _ = load_current(session=session, queue="fraud")
        items = add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[
                NewItem(f"t-{i}", {"features": {"x": 1.0}}, {}, p, 0.9, route, w, 0.1)
                for i, (p, _, route, w) in enumerate(rows)
            ],
        )
        answered = [(item.id, truth) for item, (_, truth, _, _) in zip(items, rows, strict=True)]
    for pk, truth in answered:
        if truth is not None:
            vote(sessions, pk, "U0ANA", truth)
    with sessions.begin() as session:
        figures = queue_stats(session=session, queue=queue)
    # weights 2, 4, 2 → right on 2 + 2 of 8; no control answers: the raw agreement, said so
    assert figures["automatic_accuracy"]["value"] == 4 / 8
    assert figures["automatic_accuracy"]["n"] == 3
    assert figures["automatic_agreement"] == figures["automatic_accuracy"]
    assert figures["accuracy_basis"]["corrected"] is False
    # precision of "fraud": one predicted fraud, right
    assert figures["positive_precision"]["value"] == 1.0
    # recall of "fraud": true frauds weigh 4 (missed) + 2 (found)
    assert abs(figures["positive_recall"]["value"] - 2 / 6) < 1e-12
    assert figures["routed"] == {"review": 1, "audit": 3, "auto": 1}
    assert figures["reviewer_agreement"] is None  # votes_required = 1


def test_a_new_queue_says_not_measured(sessions):
    seed_model(sessions)
    queue = make_config(fraud={}).queue("fraud")
    with sessions.begin() as session:
        figures = queue_stats(session=session, queue=queue)
    assert figures["automatic_accuracy"] == {"value": None, "low": None, "high": None, "n": 0}


def test_the_weekly_figures_are_the_digests(sessions):
    seed_model(sessions)
    queue = make_config(fraud={}).queue("fraud")
    with sessions.begin() as session:
        version, _ = load_current(session=session, queue="fraud")
        add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[
                NewItem(f"t-{i}", {"features": {"x": 1.0}}, {}, "legit", 0.6, "review", 1, 0.4)
                for i in range(3)
            ],
        )
    now = datetime.now(UTC)
    with sessions.begin() as session:
        figures = queue_stats(session=session, queue=queue, now=now)
        digest = digest_figures(session=session, queue=queue, now=now)
        lean = queue_stats(session=session, queue=queue, now=now, weekly=False)
    assert figures["this_week"] == asdict(digest.this_week)
    assert figures["this_week"]["items"] == 3
    assert figures["this_week"]["routed"] == {"review": 3, "audit": 0, "auto": 0}
    assert figures["backlog"] == 3 and figures["new_queue"] is False
    assert len(figures["history"]) == 12
    # Without the weekly part, the same figures and nothing else.
    assert "this_week" not in lean and "history" not in lean
    assert lean == {key: figures[key] for key in lean}
