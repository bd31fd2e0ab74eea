"""The item's part of a card: why the model said what it said, warnings about its inputs, the
quoted texts of a text queue, its fields and context, and the actions about the item.

Values from items are escaped (``bot.mrkdwn``) and carried in ``verbatim`` mrkdwn objects, so an
item can never ping, mention or link; a value mrkdwn would format (``Jane *Doe*``) goes out as
``plain_text`` or rich text instead, so it reads exactly as the producer sent it. Values are
formatted by the queue's ``format`` (``bot.review.field_format``) and masked by its masking
(``bot.masking``); hidden fields never appear. Fields past a budget are counted, not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.models.blocks import (
    Block,
    MarkdownTextObject,
    PlainTextObject,
    RichTextBlock,
    RichTextElementParts,
    RichTextListElement,
    RichTextQuoteElement,
    RichTextSectionElement,
    SectionBlock,
)
from slack_sdk.models.blocks.basic_components import TextObject

from bot import mrkdwn
from bot.mrkdwn import escape_and_truncate, would_format
from bot.review.card_view import (
    CUSTOMER_MESSAGE,
    TEXT_INPUT,
    CardView,
    Field,
    FieldOrder,
    InputWarning,
    WhyItem,
    field_order,
    visible_why,
)
from bot.review.field_format import Shown, display, formatted
from bot.review.item_actions import item_actions

if TYPE_CHECKING:
    from bot.review.blocks import ReviewCard

_KEY, _VALUE = 100, 300  # one field: "*key*\nvalue"
_LABEL = 60
_WHY_VALUE = 120
_WARNED_NAMES = 8  # names listed per warning; the others are counted
_FIELDS_BUDGET, _CONTEXT_BUDGET = 3000, 1000  # characters of all fields of each kind
_FIELD_SECTIONS, _CONTEXT_SECTIONS = 2, 1  # ≤ 10 fields each: what a card shows
_CUSTOMER, _REPLY = 1000, 2000
_WARNING_TITLES = {
    "missing_features": "missing",
    "unknown_features": "not known to the model",
    "unseen_categories": "a value never seen in training",
}

__all__ = ["display", "item_sections", "mrkdwn_text", "quoted", "section", "shown_value"]


def item_sections(card: ReviewCard, *, show_why: bool = True) -> list[Block]:
    """Everything about the item below the model's summary, in card order: why, warnings,
    the texts of a text queue, fields, context, then the item's actions (all fields, link).

    ``show_why=False`` leaves the explanation out (a card that must not hint at what the model
    said: its signs point at the predicted label)."""
    view = card.view
    features: dict[str, object] = dict(card.features)
    context: dict[str, object] = dict(card.context)
    blocks: list[Block] = []
    why = visible_why(card.explanation, view) if show_why else ()
    if why:
        blocks.append(why_block(why, card))
    if card.warnings:
        warning = warning_block(card.warnings, view)
        if warning is not None:
            blocks.append(warning)
    if card.kind == "text":
        reply = card.text if card.text is not None else features.get(TEXT_INPUT)
        customer = card.customer_message
        if customer is None and CUSTOMER_MESSAGE in context:
            customer = str(context[CUSTOMER_MESSAGE])
        if customer is not None:
            blocks.append(quote_block("Customer wrote", customer, _CUSTOMER))
        title = "Bot replied" if customer is not None else "Text"
        blocks.append(quote_block(title, display(reply), _REPLY))
        features.pop(TEXT_INPUT, None)
        context.pop(CUSTOMER_MESSAGE, None)
    order = field_order(features, context, card.explanation, view)
    fields, cut = field_sections("Fields", order.shown, view, _FIELD_SECTIONS, _FIELDS_BUDGET)
    more_context, cut_context = field_sections(
        "Context", order.context, view, _CONTEXT_SECTIONS, _CONTEXT_BUDGET
    )
    blocks += fields + more_context
    actions = item_actions(card, folded=len(order.folded) + cut + cut_context)
    if actions is not None:
        blocks.append(actions)
    return blocks


# ---------------------------------------------------------------- why


def why_block(why: Sequence[WhyItem], card: ReviewCard) -> RichTextBlock:
    """ "Why the model says fraud", then one line per contribution: ``amount = €1,504.93 pushes
    toward fraud``. Rich text, so values read literally and dates in the reader's zone."""
    predicted = escape_and_truncate(card.predicted, _LABEL)
    title = [_text(f"Why the model says {predicted}", bold=True)]
    lines = [RichTextSectionElement(elements=_why_line(item, card)) for item in why]
    return RichTextBlock(
        elements=[
            RichTextSectionElement(elements=title),
            RichTextListElement(style="bullet", elements=lines),
        ]
    )


def _why_line(item: WhyItem, card: ReviewCard) -> list[Any]:
    if card.kind == "text" and item.feature == TEXT_INPUT:
        term = card.view.masking.text(display(item.value))
        parts: list[Any] = [_text(f"“{escape_and_truncate(term, _WHY_VALUE)}”", bold=True)]
    else:
        parts = [_text(escape_and_truncate(item.feature, _KEY), bold=True), _text(" = ")]
        parts.append(_shown_part(shown_value(item.feature, item.value, card.view)))
    parts += [_text(" pushes "), _text(_direction(item.contribution, card), bold=True)]
    return parts


def _direction(contribution: float, card: ReviewCard) -> str:
    """Toward the predicted label, or away from it: toward the other label of a binary queue."""
    predicted = card.predicted
    if contribution >= 0:
        return f"toward {escape_and_truncate(predicted, _LABEL)}"
    others = [label for label in card.labels if label != predicted]
    if len(others) == 1:
        return f"toward {escape_and_truncate(others[0], _LABEL)}"
    return f"away from {escape_and_truncate(predicted, _LABEL)}"


def _shown_part(shown: Shown) -> Any:
    if shown.at is not None:
        return RichTextElementParts.Date(
            timestamp=shown.at,
            format="{date_short_pretty} at {time}",
            fallback=escape_and_truncate(shown.text, _WHY_VALUE),
        )
    return _text(escape_and_truncate(shown.text, _WHY_VALUE))


# ---------------------------------------------------------------- warnings


def warning_block(warnings: Sequence[InputWarning], view: CardView) -> RichTextBlock | None:
    """ "The model was not given everything it was trained on": the inputs, named (hidden ones
    left out), so the reviewer knows the confidence rests on less than usual."""
    parts: list[Any] = [_text("⚠️ Inputs the model cannot vouch for", bold=True), _text(": ")]
    named = 0
    for warning in warnings:
        names = [name for name in warning.fields if name not in view.hide]
        if not names:
            continue
        if named:
            parts.append(_text("; "))
        parts.append(_text(f"{_WARNING_TITLES.get(warning.code, warning.code)} "))
        for n, name in enumerate(names[:_WARNED_NAMES]):
            parts += [_text(", ")] if n else []
            parts.append(_text(escape_and_truncate(name, _KEY), code=True))
        if len(names) > _WARNED_NAMES:
            parts.append(_text(f" and {len(names) - _WARNED_NAMES} more"))
        named += 1
    if not named:
        return None
    parts.append(_text(". Sent to people whatever the model's confidence."))
    return RichTextBlock(elements=[RichTextSectionElement(elements=parts)])


# ---------------------------------------------------------------- fields


def shown_value(name: str, value: object, view: CardView) -> Shown:
    """A field's value formatted by the queue's ``format`` and masked by its masking."""
    if name in view.masking.fields:
        return Shown(view.masking.value(name, display(value)))
    shown = formatted(value, view.format_of(name))
    return Shown(view.masking.text(shown.text), shown.at)


def field_text(item: Field, view: CardView) -> TextObject:
    """``*key*`` then the value; plain text when mrkdwn would format either of them."""
    name = item.name.strip() or "(blank)"
    shown = shown_value(item.name, item.value, view)
    if shown.at is not None:
        value = mrkdwn.date(datetime.fromtimestamp(shown.at, UTC))
        return mrkdwn_text(f"*{escape_and_truncate(name, _KEY)}*\n{value}")
    if would_format(name) or would_format(shown.text):
        text = f"{escape_and_truncate(name, _KEY)}\n{escape_and_truncate(shown.text, _VALUE)}"
        return PlainTextObject(text=text, emoji=False)
    return mrkdwn_text(
        f"*{escape_and_truncate(name, _KEY)}*\n{escape_and_truncate(shown.text, _VALUE)}"
    )


def field_sections(
    heading: str, values: Sequence[Field], view: CardView, max_sections: int, budget: int
) -> tuple[list[Block], int]:
    """Fields as section fields, 10 per section, the heading on the first section; and how many
    did not fit in ``max_sections`` sections or ``budget`` characters."""
    if not values:
        return [], 0
    texts: list[TextObject] = []
    used = 0
    for item in values:
        text = field_text(item, view)
        size = mrkdwn.length(text.text or "")
        if len(texts) == 10 * max_sections or used + size > budget:
            break
        texts.append(text)
        used += size
    chunks = [texts[i : i + 10] for i in range(0, len(texts), 10)] or [[]]
    sections: list[Block] = []
    for n, chunk in enumerate(chunks):
        sections.append(
            SectionBlock(
                text=mrkdwn_text(f"*{heading}*") if n == 0 else None,
                fields=list(chunk) or None,
            )
        )
    return sections, len(values) - len(texts)


def all_field_sections(order: FieldOrder, view: CardView, max_blocks: int) -> list[Block]:
    """Every field (for the "Show all fields" modal), features then context."""
    features = [f for f in order.everything if f.source == "feature"]
    context = [f for f in order.everything if f.source == "context"]
    half = max(1, max_blocks // 2)
    blocks, _ = field_sections("Fields", features, view, half, 10**6)
    more, _ = field_sections("Context", context, view, max_blocks - len(blocks), 10**6)
    return blocks + more


# ---------------------------------------------------------------- texts


def quote_block(title: str, text: str, limit: int) -> Block:
    """A quoted text under its title; rich text when mrkdwn would format the text."""
    if not would_format(text):
        return section(quoted(title, text, limit))
    body = escape_and_truncate(text, limit)
    return RichTextBlock(
        elements=[
            RichTextSectionElement(elements=[_text(title, bold=True)]),
            RichTextQuoteElement(elements=[_text(body)]),
        ]
    )


def quoted(title: str, text: str, limit: int) -> str:
    return f"*{title}*\n{mrkdwn.quote(text, limit)}"


def mrkdwn_text(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def section(text: str) -> SectionBlock:
    return SectionBlock(text=mrkdwn_text(text))


def _text(text: str, *, bold: bool = False, code: bool = False) -> Any:
    style = {key: True for key, on in (("bold", bold), ("code", code)) if on}
    return RichTextElementParts.Text(text=text, style=style or None)


# ---------------------------------------------------------------- the "Show all fields" modal

_MODAL_BLOCKS = 95  # of Slack's 100 per view


def fields_modal(card: ReviewCard) -> dict[str, Any]:
    """Every field of the item (hidden ones excepted), formatted and masked as on the card."""
    features = {k: v for k, v in card.features.items() if k != TEXT_INPUT}
    context = {k: v for k, v in card.context.items() if k != CUSTOMER_MESSAGE}
    order = field_order(features, context, card.explanation, card.view)
    title = escape_and_truncate(f"{card.queue} · {card.item_id}", 150)
    blocks: list[Block] = [SectionBlock(text=PlainTextObject(text=title, emoji=False))]
    blocks += all_field_sections(order, card.view, _MODAL_BLOCKS - 1)
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "All fields"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [b.to_dict() for b in blocks],
    }
