"""Factories for tests: queue configs and a first model trained on real bundled data.

The model is trained on scikit-learn's bundled breast-cancer set relabelled "legit"/"fraud":
real, labelled, tabular and instant to load — the shape of a fraud queue, not its meaning.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sklearn.datasets import load_breast_cancer
from sqlalchemy.orm import Session, sessionmaker

from bot.config import HitlConfig, parse_config
from models.training import train_initial
from storage.home_data import WaitingItem
from storage.reviews import UndoResult, VoteOutcome, record_vote, undo_vote

LABELS = ("legit", "fraud")


def config_toml(**queues: dict[str, Any]) -> str:
    """TOML text for ``queues`` (name → fields); ``kind``/``channel``/``labels`` default to a
    tabular fraud queue in channel C0REVIEW. ``gold_rate`` defaults to 0 here (the design's
    default is 0.02): control items are random, and only the tests about them want them."""
    parts = []
    for name, fields in queues.items():
        body = {
            "kind": "tabular",
            "channel": "C0REVIEW",
            "labels": list(LABELS),
            "gold_rate": 0,
            **fields,
        }
        lines = [f"[queues.{name}]"]
        for key, value in body.items():
            lines.append(f"{key} = {_toml(value)}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


def make_config(**queues: dict[str, Any]) -> HitlConfig:
    return parse_config(config_toml(**queues))


@cache
def cancer_rows() -> tuple[list[dict[str, Any]], list[str]]:
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    payloads = [{"features": dict(zip(names, map(float, row), strict=True))} for row in data.data]
    # target 0 = malignant: the rarer, "positive" class plays fraud.
    y = [LABELS[1] if t == 0 else LABELS[0] for t in data.target]
    return payloads, y


def seed_model(sessions: sessionmaker[Session], queue: str = "fraud") -> str:
    payloads, y = cancer_rows()
    with sessions.begin() as session:
        version = train_initial(
            session=session,
            queue=queue,
            kind="tabular",
            labels=LABELS,
            payloads=payloads[:300],
            y=y[:300],
        )
        return version.version


def items_for(n: int, *, start: int = 300, prefix: str = "t") -> list[dict[str, Any]]:
    """API items from the rows the seed model did not see."""
    payloads, _ = cancer_rows()
    return [
        {"id": f"{prefix}-{i}", **payloads[start + i % (len(payloads) - start)]} for i in range(n)
    ]


def placeholder_version(session: Session, queue: str = "fraud") -> int:
    """A current registry row with placeholder bytes, for storage tests that need a model
    version id but never score (seed_model trains a real one)."""
    from storage.registry import add_version

    return add_version(
        session=session,
        queue=queue,
        kind="tabular",
        artifact=b"x",
        sha256="0" * 64,
        labels=list(LABELS),
        n_train=10,
        metrics={},
        info={},
        make_current=True,
    ).id


def vote(
    sessions: sessionmaker[Session],
    item_pk: int,
    user: str,
    label: str = "fraud",
    *,
    key: str | None = None,
    required: int = 1,
) -> VoteOutcome:
    """``user``'s vote on an item in a transaction of its own, as one click stores it."""
    with sessions.begin() as session:
        return record_vote(
            session=session,
            item_pk=item_pk,
            user_id=user,
            label=label,
            request_key=key or f"{user}:{item_pk}:{label}",
            votes_required=required,
        )


def undo(sessions: sessionmaker[Session], review_id: int, user: str) -> None:
    """``user`` takes back their vote ``review_id`` well inside the undo window; fails the test
    if nothing was undone (someone else's vote, or one never recorded)."""
    with sessions.begin() as session:
        result, _ = undo_vote(
            session=session,
            review_id=review_id,
            user_id=user,
            request_key=f"undo:{review_id}",
            window=timedelta(minutes=5),
        )
    assert result is UndoResult.UNDONE, result


def waiting_item(
    n: int, *, now: datetime, item_id: str | None = None, votes: int = 0
) -> WaitingItem:
    """The ``n``-th item waiting for someone, posted ``n`` minutes before ``now``: what App Home
    lists and `/hitl next` introduces."""
    return WaitingItem(
        queue="fraud",
        item_pk=n,
        item_id=item_id or f"t-{n}",
        channel="C0REVIEW",
        ts=f"1700000000.{n:06d}",
        posted_at=now - timedelta(minutes=n),
        predicted="fraud",
        confidence=0.61,
        route="review",
        votes=votes,
    )


def answered_items(sessions: sessionmaker[Session], n: int = 3) -> None:
    """``n`` items answered since the first model, so a retrain has something new to learn."""
    from storage.items import NewItem, add_items
    from storage.registry import current_version

    payloads, y = cancer_rows()
    with sessions.begin() as session:
        version = current_version(session=session, queue="fraud")
        items = add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[
                NewItem(f"a-{i}", payloads[300 + i], {}, "legit", 0.6, "review", 1.0, 0.4)
                for i in range(n)
            ],
        )
        pks = [item.id for item in items]
    for i, pk in enumerate(pks):
        vote(sessions, pk, "U0ANALYST", y[300 + i])
