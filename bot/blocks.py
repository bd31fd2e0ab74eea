"""Block Kit for review messages: pure functions, dataclasses in, JSON-ready dicts out.

No Slack calls here, so every message can be checked in a unit test. Three rules hold for
everything built here:

- text from items (and from config) is escaped (``bot.mrkdwn``) and mrkdwn objects carrying it
  are ``verbatim``, so an item can never ping, mention or link;
- buttons and options carry ids only, ``"{item_pk}:{label_index}"`` (see ``parse_vote_value``),
  never item text: Slack echoes values back in payloads anyone in the channel can trigger;
- Slack's documented limits hold for any input (50 blocks, 3,000 per section text, 10 fields of
  2,000, 75 per button or option text, 150 per header), and the text of a whole message stays
  near 10,000 characters, under the undocumented cumulative limit behind ``msg_blocks_too_long``
  (slackapi/bolt-js#2509, #2867). Long values are cut with "…"; extra fields are counted.

Slack rejects an actions block whose elements share an ``action_id``, so the vote elements use
``hitl_vote:confirm``, ``hitl_vote:reject`` and ``hitl_vote:correct``; listeners match them
with ``VOTE_ACTION_PATTERN``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    HeaderBlock,
    InteractiveElement,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot import mrkdwn
from bot.figures_text import whole_percent
from bot.mrkdwn import escape_and_truncate, mention

VOTE_ACTION_ID = "hitl_vote"
VOTE_ACTION_PATTERN = re.compile(r"^hitl_vote(:[a-z]+)?$")
NOTE_ACTION_ID = "hitl_note"
UNDO_ACTION_ID = "hitl_undo"

_LABEL = 60  # a label inside a sentence
_ITEM_ID = 200
_MODEL_VERSION = 100
_KEY, _VALUE = 100, 300  # one field: "*key*\nvalue"
_FIELDS_BUDGET, _CONTEXT_BUDGET = 3000, 1000  # characters of all fields of each kind
_FIELD_SECTIONS, _CONTEXT_SECTIONS = 15, 5  # ≤ 10 fields each; with ≤ 8 other blocks, ≤ 28
_CUSTOMER, _REPLY = 1000, 2000
_VOTES_TEXT = 1200
_FALLBACK = 300  # Slack's limit is far higher, but this is a notification line
_BUTTON, _HEADER, _OPTIONS = 75, 150, 100
_OPTIONS_TEXT = 2000  # all option texts of the select together


@dataclass(frozen=True)
class ReviewCard:
    """What a review message shows about one item and its prediction."""

    queue: str
    kind: str  # "tabular" | "text"
    item_pk: int  # database id: the only thing button values carry
    item_id: str  # the producer's id, shown to people
    labels: tuple[str, ...]  # first = negative, second = positive for binary queues
    predicted: str
    confidence: float  # probability of `predicted`, 0..1
    route: str  # "review" | "audit"
    model_version: str
    features: Mapping[str, str | float | int | bool | None]  # text items: {"text": ...}
    context: Mapping[str, str | float | int]
    text: str | None = None  # text queue: the bot reply being rated (else features["text"])
    customer_message: str | None = None  # text queue (else context["customer_message"])


@dataclass(frozen=True)
class Vote:
    user_id: str
    label: str
    at: datetime  # aware
    review_id: int


@dataclass(frozen=True)
class Resolution:
    votes: tuple[Vote, ...]
    resolved_label: str | None  # None when the votes tied
    votes_required: int


def parse_vote_value(value: str) -> tuple[int, int]:
    """``(item_pk, label_index)`` from a vote button or option value; ValueError if malformed."""
    pk, sep, index = value.partition(":")
    if not sep or not pk.isdigit() or not index.isdigit():
        raise ValueError(f"not a vote value: {value[:40]!r}")
    return int(pk), int(index)


def review_message(
    card: ReviewCard, *, votes: tuple[Vote, ...] = (), votes_required: int = 1
) -> tuple[str, list[dict[str, Any]]]:
    """The message asking for an answer (fallback text, blocks), with any votes so far."""
    blocks = _item_blocks(card)
    if votes:
        head = f"*Votes so far ({len(votes)} of {votes_required} needed)*"
        blocks.append(_section(_vote_lines(head, votes, card.predicted)))
    blocks.append(
        ActionsBlock(block_id=f"hitl_actions:{card.item_pk}", elements=_vote_elements(card))
    )
    pct = whole_percent(card.confidence)
    fallback = f"{card.queue}: review item {card.item_id}, model says {card.predicted} ({pct})"
    return escape_and_truncate(fallback, _FALLBACK), [b.to_dict() for b in blocks]


def answered_message(
    card: ReviewCard,
    resolution: Resolution,
    *,
    now: datetime,
    undo_window: timedelta = timedelta(minutes=5),
) -> tuple[str, list[dict[str, Any]]]:
    """The message once answered: the item, who answered what and when, Undo for a while.

    Undo undoes the latest vote, so only that vote's review id is on the button.
    """
    blocks = _item_blocks(card)
    resolved = resolution.resolved_label
    if resolved is None:  # every vote is in and they tie: people gave no single answer
        head = (
            f"⚖️ *No answer: the {len(resolution.votes)} votes are split evenly*, so this item"
            " is not used for training"
        )
    else:
        answer = escape_and_truncate(resolved, _LABEL)
        said = escape_and_truncate(card.predicted, _LABEL)
        verdict = "confirming" if resolved == card.predicted else f"correcting (it said {said})"
        head = f"*Resolved: {answer}*, {verdict} the model"
    blocks.append(_section(_vote_lines(head, resolution.votes, card.predicted)))
    if resolution.votes:
        last = max(resolution.votes, key=lambda vote: (vote.at, vote.review_id))
        if now - last.at < undo_window:
            undo = ButtonElement(text="Undo", action_id=UNDO_ACTION_ID, value=str(last.review_id))
            blocks.append(ActionsBlock(block_id=f"hitl_undo:{card.item_pk}", elements=[undo]))
    outcome = resolved if resolved is not None else "no answer, the votes tied"
    fallback = f"{card.queue}: item {card.item_id} answered: {outcome}"
    return escape_and_truncate(fallback, _FALLBACK), [b.to_dict() for b in blocks]


def not_a_reviewer_text(queue: str) -> str:
    return (
        f"You are not a reviewer of *{escape_and_truncate(queue, 100)}*, so your answer was"
        " not recorded. Ask the queue's owner to add you."
    )


def already_answered_text(votes: tuple[Vote, ...]) -> str:
    shown = ", ".join(
        f"{mention(v.user_id)} ({escape_and_truncate(v.label, _LABEL)})" for v in votes[:10]
    )
    more = f" and {len(votes) - 10} more" if len(votes) > 10 else ""
    by = f" by {shown}{more}" if votes else ""
    return f"Already answered{by}. Nothing was changed; use Undo on the message to change it."


def undo_expired_text() -> str:
    return "The time to undo this answer has passed, so it stays as it is."


def undo_not_yours_text() -> str:
    return "Only the person who gave this answer can undo it."


def _item_blocks(card: ReviewCard) -> list[Block]:
    """Header, prediction summary, text-queue quotes, fields and context: shared by both states."""
    title = escape_and_truncate(f"{card.queue} · {card.item_id}", _HEADER)
    # emoji=False: an id such as "t:b:1" must not turn ":b:" into an emoji.
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=title, emoji=False))]
    blocks.append(_section(_summary(card)))
    features: Mapping[str, object] = card.features
    context: Mapping[str, object] = card.context
    if card.kind == "text":
        reply = card.text if card.text is not None else card.features.get("text")
        customer = card.customer_message
        if customer is None and "customer_message" in card.context:
            customer = str(card.context["customer_message"])
        if customer is not None:
            blocks.append(_section(_quoted("Customer wrote", customer, _CUSTOMER)))
        blocks.append(_section(_quoted("Bot replied", _display(reply), _REPLY)))
        features = {k: v for k, v in features.items() if k != "text"}
        context = {k: v for k, v in context.items() if k != "customer_message"}
    blocks += _field_sections("Fields", features, _FIELD_SECTIONS, _FIELDS_BUDGET)
    blocks += _field_sections("Context", context, _CONTEXT_SECTIONS, _CONTEXT_BUDGET)
    return blocks


def _summary(card: ReviewCard) -> str:
    predicted = escape_and_truncate(card.predicted, _LABEL)
    lines = [
        f"Model says *{predicted}* ({whole_percent(card.confidence)} confident)",
        f"Item {escape_and_truncate(card.item_id, _ITEM_ID)}"
        f" · model {escape_and_truncate(card.model_version, _MODEL_VERSION)}",
    ]
    if card.route == "audit":
        lines.append(
            "🔍 *Audit sample*: the model is confident; this item was picked at random"
            " to measure how often confident predictions are right."
        )
    elif card.route == "review":
        lines.append("🤔 *Needs review*: the model is unsure about this item.")
    else:
        lines.append(f"Route: {escape_and_truncate(card.route, 40)}")
    return "\n".join(lines)


def _vote_elements(card: ReviewCard) -> list[InteractiveElement]:
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


def _vote_lines(head: str, votes: Sequence[Vote], predicted: str) -> str:
    """``head`` then one line per vote, within the budget; later votes are counted, not shown."""
    lines, used = [head], mrkdwn.length(head)
    for n, vote in enumerate(votes):
        verdict = "confirmed" if vote.label == predicted else "corrected"
        line = (
            f"✅ {mention(vote.user_id)} answered *{escape_and_truncate(vote.label, _LABEL)}*"
            f" at {mrkdwn.date(vote.at)} ({verdict})"
        )
        if used + mrkdwn.length(line) + 1 > _VOTES_TEXT - 40:
            lines.append(f"_…and {len(votes) - n} more_")
            break
        lines.append(line)
        used += mrkdwn.length(line) + 1
    return "\n".join(lines)


def _field_sections(
    heading: str, values: Mapping[str, object], max_sections: int, budget: int
) -> list[Block]:
    """Key/value pairs as section fields, 10 per section, the heading on the first section.

    Fields past ``max_sections`` sections or ``budget`` characters are counted on the last one.
    """
    if not values:
        return []
    texts: list[str] = []
    used = 0
    for key, value in values.items():
        name = escape_and_truncate(key.strip() or "(blank)", _KEY)
        text = f"*{name}*\n{escape_and_truncate(_display(value), _VALUE)}"
        if len(texts) == 10 * max_sections or used + mrkdwn.length(text) > budget:
            break
        texts.append(text)
        used += mrkdwn.length(text)
    hidden = len(values) - len(texts)
    chunks = [texts[i : i + 10] for i in range(0, len(texts), 10)] or [[]]
    sections: list[Block] = []
    for n, chunk in enumerate(chunks):
        lines = [f"*{heading}*"] if n == 0 else []
        if hidden and n == len(chunks) - 1:
            lines.append(f"_…and {hidden} more field{'' if hidden == 1 else 's'}_")
        sections.append(
            SectionBlock(
                text=_mrkdwn("\n".join(lines)) if lines else None,
                fields=[_mrkdwn(t) for t in chunk] or None,
            )
        )
    return sections


def _quoted(title: str, text: str, limit: int) -> str:
    return f"*{title}*\n{mrkdwn.quote(text, limit)}"


def _display(value: object) -> str:
    """A feature or context value as reviewers read it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def _mrkdwn(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_mrkdwn(text))
