"""The buttons of a review card, and the values they carry back.

Buttons and options carry ids only, ``"{item_pk}:{label_index}"`` (see ``parse_vote_value``),
never item text: Slack echoes values back in payloads anyone in the channel can trigger.

Slack rejects an actions block whose elements share an ``action_id``, so the vote elements use
``hitl_vote:confirm``, ``hitl_vote:reject``, ``hitl_vote:correct`` and, on a blind card,
``hitl_vote:label0``, ``hitl_vote:label1``, …; listeners match them with ``VOTE_ACTION_PATTERN``.

Button styles never nudge: no green "Confirm", no red "Reject"; every answer looks alike, so the
colour of a button is never the reason for a click. A blind card (an audit or control card under
``blind_audit``) does not even say what the model answered: each label is a button of its own,
in the queue's order, worded and styled the same (a select of them all past ``BLIND_BUTTONS``).
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
VOTE_ACTION_PATTERN = re.compile(r"^hitl_vote(:[a-z0-9]+)?$")
NOTE_ACTION_ID = "hitl_note"
UNDO_ACTION_ID = "hitl_undo"

_BUTTON, _OPTIONS = 75, 100
#: Up to this many labels, a blind card shows one button per label; more, one select of them.
BLIND_BUTTONS = 5
_OPTIONS_TEXT = 2000  # all option texts of the select together


def parse_vote_value(value: str) -> tuple[int, int]:
    """``(item_pk, label_index)`` from a vote button or option value; ValueError if malformed."""
    pk, sep, index = value.partition(":")
    if not sep or not pk.isdigit() or not index.isdigit():
        raise ValueError(f"not a vote value: {value[:40]!r}")
    return int(pk), int(index)


def vote_elements(card: ReviewCard) -> list[InteractiveElement]:
    """Confirm, then Reject (binary) or "Correct to…" (multi-class), then Add note; on a blind
    card, one equal button per label (``blind_elements``), then Add note."""
    if card.blind:
        return blind_elements(card)
    labels, pk = card.labels, card.item_pk
    thumbs = card.kind == "text"
    predicted = labels.index(card.predicted) if card.predicted in labels else None
    others = [i for i in range(len(labels)) if i != predicted]
    elements: list[InteractiveElement] = []
    if predicted is not None:
        verb = "👍 Agree:" if thumbs else "Confirm"
        elements.append(_button(f"{verb} {labels[predicted]}", "confirm", pk, predicted))
    if predicted is not None and len(others) == 1:
        verb = "👎 Disagree →" if thumbs else "Reject →"
        elements.append(_button(f"{verb} {labels[others[0]]}", "reject", pk, others[0]))
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


def blind_elements(card: ReviewCard) -> list[InteractiveElement]:
    """Every label as an equal choice: same wording, same (default) style, the queue's order."""
    labels, pk = card.labels, card.item_pk
    elements: list[InteractiveElement] = []
    if len(labels) <= BLIND_BUTTONS:
        elements += [_button(label, f"label{i}", pk, i) for i, label in enumerate(labels)]
    else:
        size = min(_BUTTON, max(20, _OPTIONS_TEXT // min(len(labels), _OPTIONS)))
        options = [
            Option(value=f"{pk}:{i}", text=escape_and_truncate(label, size))
            for i, label in enumerate(labels[:_OPTIONS])
        ]
        placeholder = PlainTextObject(text="Choose the right label…", emoji=True)
        elements.append(
            StaticSelectElement(
                action_id=f"{VOTE_ACTION_ID}:label", placeholder=placeholder, options=options
            )
        )
    elements.append(ButtonElement(text="Add note", action_id=NOTE_ACTION_ID, value=str(pk)))
    return elements


def _button(text: str, kind: str, pk: int, index: int) -> ButtonElement:
    """A vote button; never styled (see the module docstring)."""
    label = PlainTextObject(text=escape_and_truncate(text, _BUTTON), emoji=True)
    return ButtonElement(text=label, action_id=f"{VOTE_ACTION_ID}:{kind}", value=f"{pk}:{index}")


def undo_button(review_id: int) -> ButtonElement:
    """Undo takes back one vote: the latest, whose review id it carries."""
    return ButtonElement(text="Undo", action_id=UNDO_ACTION_ID, value=str(review_id))
