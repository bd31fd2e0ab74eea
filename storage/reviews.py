"""Recording answers: append-only votes and undos, exactly-once under concurrent clicks.

Every function here runs inside the caller's transaction and starts by locking the item row, so
two clicks on one item are decided one after the other: the second sees the first's vote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from storage.items import get_item_by_pk
from storage.tables import Item, Review, ReviewMessage, utcnow


class VoteResult(StrEnum):
    RECORDED = "recorded"  # a new vote; the item may now be resolved
    DUPLICATE = "duplicate"  # this user already has a vote on the item, or a retried request
    ALREADY_RESOLVED = "already_resolved"  # enough votes were in before this one


class UndoResult(StrEnum):
    UNDONE = "undone"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    ALREADY_UNDONE = "already_undone"


@dataclass(frozen=True)
class ActiveVote:
    review_id: int
    user_id: str
    label: str
    at: datetime


@dataclass(frozen=True)
class VoteOutcome:
    result: VoteResult
    item: Item
    votes: tuple[ActiveVote, ...]
    resolved_label: str | None
    resolved: bool


def undone_votes(user_id: str | None = None) -> Select[int | None]:
    """Ids of votes taken back by an undo, for ``Review.id.not_in(...)``: every reader of votes
    excludes them. With ``user_id``, that person's only (only a vote's author can undo it, so
    the filter is exact and lets the query read less)."""
    query = select(Review.undoes_id).where(Review.action == "undo", Review.undoes_id.is_not(None))
    return query.where(Review.user_id == user_id) if user_id is not None else query


def active_votes(*, session: Session, item_pk: int) -> tuple[ActiveVote, ...]:
    """Votes not taken back by an undo, oldest first."""
    return active_votes_of(session=session, item_pks=[item_pk])[item_pk]


def active_votes_of(
    *, session: Session, item_pks: Sequence[int]
) -> dict[int, tuple[ActiveVote, ...]]:
    """``active_votes`` of many items in one query (an export page, not one query per item)."""
    pks = list(item_pks)
    grouped: dict[int, list[ActiveVote]] = {pk: [] for pk in pks}
    if pks:
        undone = undone_votes().where(Review.item_id.in_(pks))
        for r in session.scalars(
            select(Review)
            .where(Review.item_id.in_(pks), Review.action == "vote", Review.id.not_in(undone))
            .order_by(Review.id)
        ):
            grouped[r.item_id].append(
                ActiveVote(review_id=r.id, user_id=r.user_id, label=r.label or "", at=r.created_at)
            )
    return {pk: tuple(votes) for pk, votes in grouped.items()}


def majority(votes: tuple[ActiveVote, ...]) -> str | None:
    """The label most votes gave; None on a tie (a tie stays unresolved)."""
    if not votes:
        return None
    (first, n1), *rest = Counter(v.label for v in votes).most_common(2)
    return None if rest and rest[0][1] == n1 else first


def record_vote(
    *,
    session: Session,
    item_pk: int,
    user_id: str,
    label: str,
    request_key: str,
    votes_required: int,
    source: str = "slack_button",
    note: str | None = None,
) -> VoteOutcome:
    item = get_item_by_pk(session=session, item_pk=item_pk, for_update=True)
    votes = active_votes(session=session, item_pk=item_pk)

    def outcome(result: VoteResult, votes: tuple[ActiveVote, ...]) -> VoteOutcome:
        return VoteOutcome(
            result=result,
            item=item,
            votes=votes,
            resolved_label=item.resolved_label,
            resolved=item.resolved_at is not None,
        )

    retried = session.scalar(
        select(Review.id).where(Review.item_id == item_pk, Review.request_key == request_key)
    )
    if retried is not None or any(v.user_id == user_id for v in votes):
        return outcome(VoteResult.DUPLICATE, votes)
    if len(votes) >= votes_required:
        return outcome(VoteResult.ALREADY_RESOLVED, votes)

    review = Review(
        item_id=item_pk,
        user_id=user_id,
        action="vote",
        label=label,
        source=source,
        request_key=request_key,
        note=note,
    )
    session.add(review)
    session.flush()
    votes = (*votes, ActiveVote(review.id, user_id, label, review.created_at))
    if len(votes) >= votes_required:
        _resolve(session=session, item=item, label=majority(votes), at=review.created_at)
    return outcome(VoteResult.RECORDED, votes)


def undo_vote(
    *,
    session: Session,
    review_id: int,
    user_id: str,
    request_key: str,
    window: timedelta,
    now: datetime | None = None,
) -> tuple[UndoResult, Item]:
    """Take back a vote: a new ``undo`` row; the item is open again for answers."""
    vote = session.get(Review, review_id)
    if vote is None or vote.action != "vote":
        raise LookupError(f"no vote #{review_id}")
    item = get_item_by_pk(session=session, item_pk=vote.item_id, for_update=True)
    if vote.user_id != user_id:
        return UndoResult.NOT_YOURS, item
    if any(v.review_id == review_id for v in active_votes(session=session, item_pk=item.id)):
        if (now or utcnow()) - vote.created_at > window:
            return UndoResult.EXPIRED, item
        session.add(
            Review(
                item_id=item.id,
                user_id=user_id,
                action="undo",
                undoes_id=review_id,
                source="slack_button",
                request_key=request_key,
            )
        )
        _resolve(session=session, item=item, label=None, at=None)
        session.flush()
        return UndoResult.UNDONE, item
    return UndoResult.ALREADY_UNDONE, item


def _resolve(*, session: Session, item: Item, label: str | None, at: datetime | None) -> None:
    """Mark the item (and its outbox row) resolved at ``at``, or open again when ``at`` is None."""
    item.resolved_label = label
    item.resolved_at = at
    message = session.scalar(select(ReviewMessage).where(ReviewMessage.item_id == item.id))
    if message is not None and message.state in ("posted", "resolved"):
        message.state = "resolved" if at is not None else "posted"
        message.resolved_at = at
    session.flush()


def add_note(*, session: Session, item_pk: int, user_id: str, text: str, request_key: str) -> None:
    """A reviewer's note on an item; it changes no vote."""
    exists = session.scalar(
        select(Review.id).where(Review.item_id == item_pk, Review.request_key == request_key)
    )
    if exists is None:
        session.add(
            Review(
                item_id=item_pk,
                user_id=user_id,
                action="note",
                note=text,
                source="slack_modal",
                request_key=request_key,
            )
        )
