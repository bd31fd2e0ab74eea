"""The buttons of a review card, and the values they carry back.

Buttons and options carry ids only, ``"{item_pk}:{label_index}"`` (see ``parse_vote_value``),
never item text: Slack echoes values back in payloads anyone in the channel can trigger.

Slack rejects an actions block whose elements share an ``action_id``, so the vote elements use
``hitl_vote:confirm``, ``hitl_vote:reject`` and ``hitl_vote:correct``; listeners match them
with ``VOTE_ACTION_PATTERN``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    ButtonElement,
    InteractiveElement,
    Option,
    PlainTextObject,
    StaticSelectElement,
)

from bot.mrkdwn import escape_and_truncate

if TYPE_CHECKING:
    from bot.review.blocks import ReviewCard

VOTE_ACTION_ID = "hitl_vote"
VOTE_ACTION_PATTERN = re.compile(r"^hitl_vote(:[a-z]+)?$")
NOTE_ACTION_ID = "hitl_note"
UNDO_ACTION_ID = "hitl_undo"

_BUTTON, _OPTIONS = 75, 100
_OPTIONS_TEXT = 2000  # all option texts of the select together


def parse_vote_value(value: str) -> tuple[int, int]:
    """``(item_pk, label_index)`` from a vote button or option value; ValueError if malformed."""
    pk, sep, index = value.partition(":")
    if not sep or not pk.isdigit() or not index.isdigit():
        raise ValueError(f"not a vote value: {value[:40]!r}")
    return int(pk), int(index)


def vote_elements(card: ReviewCard) -> list[InteractiveElement]:
    """Confirm, then Reject (binary) or "Correct to…" (multi-class), then Add note."""
    labels, pk = card.labels, card.item_pk
    thumbs = card.kind == "text"
    predicted = labels.index(card.predicted) if card.predicted in labels else None
    others = [i for i in range(len(labels)) if i != predicted]
    elements: list[InteractiveElement] = []
    if predicted is not None:
        verb = "👍 Agree:" if thumbs else "Confirm"
        elements.append(_button(f"{verb} {labels[predicted]}", "confirm", pk, predicted, "primary"))
    if predicted is not None and len(others) == 1:
        verb = "👎 Disagree →" if thumbs else "Reject →"
        elements.append(_button(f"{verb} {labels[others[0]]}", "reject", pk, others[0], "danger"))
    elif others:
        shown = others[:_OPTIONS]
        # Many long labels would crowd out the item under the cumulative text limit.
        size = min(_BUTTON, max(20, _OPTIONS_TEXT // len(shown)))
        options = [
            Option(value=f"{pk}:{i}", text=escape_and_truncate(labels[i], size)) for i in shown
        ]
        placeholder = PlainTextObject(text=("👎 " if thumbs else "") + "Correct to…", emoji=True)
        elements.append(
            StaticSelectElement(
                action_id=f"{VOTE_ACTION_ID}:correct", placeholder=placeholder, options=options
            )
        )
    elements.append(ButtonElement(text="Add note", action_id=NOTE_ACTION_ID, value=str(pk)))
    return elements


def _button(text: str, kind: str, pk: int, index: int, style: str) -> ButtonElement:
    label = PlainTextObject(text=escape_and_truncate(text, _BUTTON), emoji=True)
    return ButtonElement(
        text=label, action_id=f"{VOTE_ACTION_ID}:{kind}", value=f"{pk}:{index}", style=style
    )


def undo_button(review_id: int) -> ButtonElement:
    """Undo takes back one vote: the latest, whose review id it carries."""
    return ButtonElement(text="Undo", action_id=UNDO_ACTION_ID, value=str(review_id))
