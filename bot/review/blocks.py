"""Block Kit for review messages: pure functions, dataclasses in, JSON-ready dicts out.

No Slack calls here, so every message can be checked in a unit test. Three rules hold for
everything built here:

- text from items (and from config) is escaped (``bot.mrkdwn``) and mrkdwn objects carrying it
  are ``verbatim``, so an item can never ping, mention or link;
- buttons and options carry ids only (``bot.review.buttons``), never item text;
- Slack's documented limits hold for any input (50 blocks, 3,000 per section text, 10 fields of
  2,000, 75 per button or option text, 150 per header), and the text of a whole message stays
  near 10,000 characters, under the undocumented cumulative limit behind ``msg_blocks_too_long``
  (slackapi/bolt-js#2509, #2867). Long values are cut with "…"; extra fields are counted.

The item's fields are laid out by ``bot.review.card_sections``, the buttons by
``bot.review.buttons``, and the private replies to a click by ``bot.review.replies``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, HeaderBlock, PlainTextObject

from bot import mrkdwn
from bot.figures_text import whole_percent
from bot.mrkdwn import escape_and_truncate, mention
from bot.review.buttons import undo_button, vote_elements
from bot.review.card_sections import item_sections, section
from bot.review.card_view import CardView, InputWarning, WhyItem

_LABEL = 60  # a label inside a sentence
_ITEM_ID = 200
_MODEL_VERSION = 100
_VOTES_TEXT = 1200
_FALLBACK = 300  # Slack's limit is far higher, but this is a notification line
_HEADER = 150


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
    # The item's part (bot.review.card_sections): why, warnings, how fields show, the link.
    explanation: tuple[WhyItem, ...] = ()
    warnings: tuple[InputWarning, ...] = ()
    view: CardView = field(default_factory=CardView)
    link_url: str | None = None
    #: A blind audit: the card shows the item, not what the model said, so the answer measuring
    #: the model is not anchored on it; every label is an equal choice (``bot.review.buttons``).
    blind: bool = False


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


def review_message(
    card: ReviewCard, *, votes: tuple[Vote, ...] = (), votes_required: int = 1
) -> tuple[str, list[dict[str, Any]]]:
    """The message asking for an answer (fallback text, blocks), with any votes so far."""
    blocks = _item_blocks(card)
    if votes:
        head = f"*Votes so far ({len(votes)} of {votes_required} needed)*"
        # On a blind card, "confirmed"/"corrected" would tell the next voter the model's answer.
        predicted = None if card.blind else card.predicted
        blocks.append(section(_vote_lines(head, votes, predicted)))
    blocks.append(
        ActionsBlock(block_id=f"hitl_actions:{card.item_pk}", elements=vote_elements(card))
    )
    fallback = f"{card.queue}: review item {card.item_id}"
    if not card.blind:
        fallback += f", model says {card.predicted} ({whole_percent(card.confidence)})"
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
    blocks.append(section(_vote_lines(head, resolution.votes, card.predicted)))
    if resolution.votes:
        last = max(resolution.votes, key=lambda vote: (vote.at, vote.review_id))
        if now - last.at < undo_window:
            undo = undo_button(last.review_id)
            blocks.append(ActionsBlock(block_id=f"hitl_undo:{card.item_pk}", elements=[undo]))
    outcome = resolved if resolved is not None else "no answer, the votes tied"
    fallback = f"{card.queue}: item {card.item_id} answered: {outcome}"
    return escape_and_truncate(fallback, _FALLBACK), [b.to_dict() for b in blocks]


def _item_blocks(card: ReviewCard) -> list[Block]:
    """Header, prediction summary, then the item (``item_sections``): shared by both states."""
    title = escape_and_truncate(f"{card.queue} · {card.item_id}", _HEADER)
    # emoji=False: an id such as "t:b:1" must not turn ":b:" into an emoji.
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=title, emoji=False))]
    blocks.append(section(_summary(card)))
    blocks += item_sections(card)
    return blocks


def _summary(card: ReviewCard) -> str:
    """What is asked: the model's answer and confidence, except on a blind card."""
    item = escape_and_truncate(card.item_id, _ITEM_ID)
    model = escape_and_truncate(card.model_version, _MODEL_VERSION)
    if card.blind:
        return "\n".join(
            [
                "*Which label is right?*",
                f"Item {item} · model {model}",
                "🔍 *Audit sample*: picked at random to measure how often the model is right;"
                " its answer is hidden so that yours is your own.",
            ]
        )
    predicted = escape_and_truncate(card.predicted, _LABEL)
    lines = [
        f"Model says *{predicted}* ({whole_percent(card.confidence)} confident)",
        f"Item {item} · model {model}",
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


def _vote_lines(head: str, votes: Sequence[Vote], predicted: str | None) -> str:
    """``head`` then one line per vote, within the budget; later votes are counted, not shown.
    Each vote says whether it confirmed the model, unless ``predicted`` is hidden (None)."""
    lines, used = [head], mrkdwn.length(head)
    for n, vote in enumerate(votes):
        line = (
            f"✅ {mention(vote.user_id)} answered *{escape_and_truncate(vote.label, _LABEL)}*"
            f" at {mrkdwn.date(vote.at)}"
        )
        if predicted is not None:
            line += " (confirmed)" if vote.label == predicted else " (corrected)"
        if used + mrkdwn.length(line) + 1 > _VOTES_TEXT - 40:
            lines.append(f"_…and {len(votes) - n} more_")
            break
        lines.append(line)
        used += mrkdwn.length(line) + 1
    return "\n".join(lines)
