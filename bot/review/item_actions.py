"""The card's actions about the item itself, in an actions block of their own above the vote
buttons: "Show all fields" (a modal with every field the card folded) and the link to the item
in the team's own tool, built from the queue's ``link`` template.

The template comes from the config, so it is trusted; item values only ever fill its
placeholders, URL-encoded, so item text never becomes a link of its own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, PlainTextObject

if TYPE_CHECKING:
    from bot.review.blocks import ReviewCard

SHOW_FIELDS_ACTION_ID = "hitl_show_fields"
LINK_ACTION_ID = "hitl_link"
_PLACEHOLDER = re.compile(r"\{(id|context\.[^{}]+)\}")
_URL = 3000  # Slack's limit on a button's url


def item_link(template: str, *, item_id: str, context: dict[str, Any]) -> str | None:
    """``template`` with ``{id}`` and ``{context.NAME}`` filled in, URL-encoded; None when the
    template is empty, names a context value the item lacks, or the URL is too long for Slack."""
    if not template:
        return None
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name == "id":
            value: object = item_id
        else:
            value = context.get(name.removeprefix("context."))
            if value is None or value == "":
                missing = True
                return ""
        return quote(str(value), safe="")

    url = _PLACEHOLDER.sub(fill, template)
    if missing or len(url) > _URL:
        return None
    return url


def item_actions(card: ReviewCard, *, folded: int) -> ActionsBlock | None:
    """ "Show all fields (N more)" when the card folded some, and the link when there is one."""
    elements: list[Any] = []
    if folded:
        label = f"Show all fields ({folded} more)"
        elements.append(
            ButtonElement(
                text=PlainTextObject(text=label, emoji=False),
                action_id=SHOW_FIELDS_ACTION_ID,
                value=str(card.item_pk),
            )
        )
    url = card.link_url
    if url is not None:
        elements.append(
            ButtonElement(
                text=PlainTextObject(text="Open case ↗", emoji=True),
                action_id=LINK_ACTION_ID,
                url=url,
                value=str(card.item_pk),
            )
        )
    if not elements:
        return None
    return ActionsBlock(block_id=f"hitl_item:{card.item_pk}", elements=elements)
