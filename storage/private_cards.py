"""The private cards `/hitl next` showed: which item, to whom.

Slack keeps no copy of an ephemeral message that the app could look up, so this is what ties a
click on such a card to the item it showed: a click counts only for an item that was shown to
the person clicking.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.tables import PrivateCard, utcnow


def remember_private_card(*, session: Session, user_id: str, item_pk: int) -> None:
    card = session.get(PrivateCard, (user_id, item_pk))
    if card is not None:
        card.shown_at = utcnow()
        return
    try:
        with session.begin_nested():
            session.add(PrivateCard(user_id=user_id, item_id=item_pk, shown_at=utcnow()))
    except IntegrityError:  # the same card shown twice at once: one row is enough
        pass


def was_shown(*, session: Session, user_id: str, item_pk: int) -> bool:
    return (
        session.scalar(
            select(PrivateCard.item_id).where(
                PrivateCard.user_id == user_id, PrivateCard.item_id == item_pk
            )
        )
        is not None
    )
