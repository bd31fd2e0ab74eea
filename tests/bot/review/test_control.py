"""Control items on a real database: rows of the trusted data alike the audits, posted once per
queue under the id they had, route ``gold``, shown as blind audit cards, never trained on nor
exported."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from bot.review.cards import card_for, metadata_for, render
from bot.review.control import add_controls
from models.registry import load_current
from models.training import train_initial
from storage.control import example_key
from storage.items import NewItem, add_items, resolved_items
from storage.labels import resolved_items as training_answers
from storage.tables import ControlItem, Item, TrainingExample
from tests.factories import LABELS, cancer_rows, make_config, vote

QUEUE = make_config(fraud={"gold_rate": 0.5, "review_below": 0.8}).queue("fraud")


def seed(sessions, n: int = 60) -> None:
    """A first model from 60 labelled rows with ids (a fifth held out), and a few confident
    predictions for control items to resemble."""
    payloads, y = cancer_rows()
    with sessions.begin() as session:
        train_initial(
            session=session,
            queue="fraud",
            kind="tabular",
            labels=LABELS,
            payloads=payloads[:n],
            y=y[:n],
            external_ids=[f"case-{i}" for i in range(n)],
        )
        version, _ = load_current(session=session, queue="fraud")
        add_items(
            session=session,
            queue="fraud",
            channel="C0REVIEW",
            model_version_id=version.id,
            items=[
                NewItem(f"t-{i}", payloads[300 + i], {}, "legit", 0.97, "auto", 0.02, 0.03)
                for i in range(20)
            ],
        )


def add(sessions, messages: int, seed_: int = 0) -> list[int]:
    with sessions.begin() as session:
        version, pipeline = load_current(session=session, queue="fraud")
        items = add_controls(
            session,
            queue=QUEUE,
            version=version,
            pipeline=pipeline,
            messages=messages,
            rng=np.random.default_rng(seed_),
        )
        return [item.id for item in items]


def test_control_items_are_trusted_rows_posted_once_under_their_own_ids(sessions):
    seed(sessions)
    first = add(sessions, 20)
    assert first, "gold_rate 0.5: about 20 control items for 20 messages"
    with sessions.begin() as session:
        train = {
            example_key(p): (e, label)
            for e, p, label in session.execute(
                select(
                    TrainingExample.external_id, TrainingExample.payload, TrainingExample.label
                ).where(TrainingExample.split == "train")
            )
        }
        holdout = {
            example_key(p)
            for p in session.scalars(
                select(TrainingExample.payload).where(TrainingExample.split == "holdout")
            )
        }
        for pk in first:
            item = session.get_one(Item, pk)
            control = session.scalar(select(ControlItem).where(ControlItem.item_id == pk))
            assert item.prediction.route == "gold" and item.message.state == "waiting"
            assert control.example_key in train and control.example_key not in holdout
            assert (item.display_id, control.label) == train[control.example_key]
            assert item.shown_id == item.display_id and item.external_id.startswith("control:")
            # The model is sure of it, as of the audits it mirrors.
            assert item.prediction.confidence >= QUEUE.review_below
    # Until every trusted row has been used once, and then no more.
    made = list(first)
    for round_ in range(1, 30):
        made += add(sessions, 20, round_)
    with sessions.begin() as session:
        keys = session.scalars(select(ControlItem.example_key)).all()
    assert len(keys) == len(set(keys)) == len(made)
    assert set(keys) <= set(train) and 30 < len(keys) <= 48
    assert add(sessions, 1000, 99) == []  # every row the model is sure of was used once


def test_a_control_card_is_a_blind_audit_card_with_a_real_id(sessions):
    seed(sessions)
    (pk, *_) = add(sessions, 20)
    with sessions.begin() as session:
        item = session.get_one(Item, pk)
        _ = item.prediction.model_version
        card = card_for(item, QUEUE)
        text, blocks = render(item, QUEUE, (), now=item.created_at)
        meta = metadata_for(item)
    assert card.route == "audit" and card.blind and card.item_id.startswith("case-")
    assert meta["event_payload"] == {"queue": "fraud", "item_id": card.item_id}
    shown = text + str(blocks)
    assert "gold" not in shown and "control" not in shown and "Model says" not in shown


def test_answers_to_control_items_never_train_and_are_not_exported(sessions):
    seed(sessions)
    pks = add(sessions, 20)
    for pk in pks:
        vote(sessions, pk, "U0ANA", "fraud")
    with sessions.begin() as session:
        assert training_answers(session=session, queue="fraud") == []
        assert resolved_items(session=session, queue="fraud") == []
        assert session.scalar(select(Item).where(Item.id == pks[0])).resolved_label == "fraud"
