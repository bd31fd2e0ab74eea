"""Items, predictions and outbox rows on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.errors import ItemNotFound
from storage.items import (
    NewItem,
    add_items,
    existing_items,
    get_item,
    get_item_by_pk,
    resolved_items,
    reviews_of,
)
from storage.reviews import record_vote
from storage.tables import Item, ReviewMessage
from tests.factories import placeholder_version


def new(external_id: str, route: str = "review", confidence: float = 0.6) -> NewItem:
    return NewItem(
        external_id=external_id,
        payload={"features": {"amount": 10.0, "country": "FR"}},
        context={"merchant": "ACME"},
        label="fraud",
        confidence=confidence,
        route=route,
        audit_probability=1.0 if route == "review" else 0.02,
        priority=1 - confidence,
    )


@pytest.fixture
def version_id(sessions) -> int:
    with sessions.begin() as session:
        return placeholder_version(session)


def store(sessions, version_id, items, queue="fraud"):
    with sessions.begin() as session:
        stored = add_items(
            session=session,
            queue=queue,
            channel="C0REVIEW",
            model_version_id=version_id,
            items=items,
        )
        return [i.id for i in stored]


def test_items_routed_to_people_get_a_waiting_outbox_row_and_auto_ones_none(sessions, version_id):
    store(
        sessions,
        version_id,
        [new("a", "review", 0.55), new("b", "audit", 0.97), new("c", "auto", 0.99)],
    )
    with sessions.begin() as session:
        messages = {
            m.item.external_id: (m.state, m.channel, m.queue, m.priority)
            for m in session.scalars(select(ReviewMessage))
        }
        item = get_item(session=session, queue="fraud", external_id="a")
        assert item.prediction is not None
        assert (item.prediction.label, item.prediction.route) == ("fraud", "review")
        assert item.prediction.model_version.version == "fraud-v1"
        assert item.payload == {"features": {"amount": 10.0, "country": "FR"}}
        assert item.context == {"merchant": "ACME"}
    assert messages == {
        "a": ("waiting", "C0REVIEW", "fraud", pytest.approx(0.45)),
        "b": ("waiting", "C0REVIEW", "fraud", pytest.approx(0.03)),
    }


def test_an_id_is_unique_within_a_queue_not_across_queues(sessions, version_id):
    store(sessions, version_id, [new("a")])
    store(sessions, version_id, [new("a")], queue="cards")
    with pytest.raises(IntegrityError):
        store(sessions, version_id, [new("a")])
    with sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 2


def test_existing_items_finds_only_the_queue_s_own(sessions, version_id):
    store(sessions, version_id, [new("a"), new("b")])
    store(sessions, version_id, [new("c")], queue="cards")
    with sessions.begin() as session:
        found = existing_items(session=session, queue="fraud", external_ids=["a", "c", "zz"])
        assert set(found) == {"a"}
        assert found["a"].prediction is not None
        assert existing_items(session=session, queue="fraud", external_ids=[]) == {}


def test_unknown_items_are_an_error_naming_them(sessions, version_id):
    [pk] = store(sessions, version_id, [new("a")])
    with sessions.begin() as session:
        with pytest.raises(ItemNotFound, match="'b'"):
            get_item(session=session, queue="fraud", external_id="b")
        with pytest.raises(ItemNotFound):
            get_item(session=session, queue="cards", external_id="a")
        with pytest.raises(ItemNotFound):
            get_item_by_pk(session=session, item_pk=pk + 100)
        assert get_item_by_pk(session=session, item_pk=pk).external_id == "a"


def test_reviews_of_groups_every_row_by_item_oldest_first(sessions, version_id):
    a, b, c = store(sessions, version_id, [new("a"), new("b"), new("c")])
    with sessions.begin() as session:
        for pk, user in ((a, "U1"), (b, "U2"), (a, "U3")):
            record_vote(
                session=session,
                item_pk=pk,
                user_id=user,
                label="fraud",
                request_key=user,
                votes_required=3,
            )
        grouped = reviews_of(session=session, item_pks=[a, b, c])
        assert {pk: [r.user_id for r in rows] for pk, rows in grouped.items()} == {
            a: ["U1", "U3"],
            b: ["U2"],
            c: [],
        }
        assert reviews_of(session=session, item_pks=[]) == {}


def test_resolved_items_pages_through_the_queue_s_resolved_items(sessions, version_id):
    pks = store(sessions, version_id, [new(f"t-{i}") for i in range(7)])
    other = store(sessions, version_id, [new("x")], queue="cards")
    with sessions.begin() as session:
        for pk in [*pks[1:6], *other]:
            record_vote(
                session=session,
                item_pk=pk,
                user_id="U1",
                label="legit",
                request_key="k",
                votes_required=1,
            )
    seen: list[str] = []
    after = 0
    with sessions.begin() as session:
        while page := resolved_items(session=session, queue="fraud", after_pk=after, limit=2):
            assert len(page) <= 2
            seen += [i.external_id for i in page]
            after = page[-1].id
    assert seen == [f"t-{i}" for i in range(1, 6)]
