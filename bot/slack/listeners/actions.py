"""Button clicks on review messages: vote, undo, add a note."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.config import QueueConfig
from bot.context import AppContext
from bot.review import answers
from bot.review.buttons import (
    NOTE_ACTION_ID,
    UNDO_ACTION_ID,
    VOTE_ACTION_PATTERN,
    parse_vote_value,
)
from bot.review.card_sections import fields_modal
from bot.review.cards import card_votes
from bot.review.item_actions import LINK_ACTION_ID, SHOW_FIELDS_ACTION_ID
from bot.review.notes import note_modal
from bot.review.replies import (
    already_answered_text,
    not_a_reviewer_text,
    undo_expired_text,
    undo_not_yours_text,
)
from bot.review.reviewers import ReviewerDirectory
from storage.reviews import UndoResult, VoteResult

logger = logging.getLogger(__name__)


def _where(body: dict[str, Any]) -> tuple[str, str] | None:
    """The (channel, ts) of the message that was clicked, as Slack reports it."""
    container = body.get("container") or {}
    if container.get("type") == "message" and not container.get("is_ephemeral"):
        return container["channel_id"], container["message_ts"]
    return None


def _is_ephemeral(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _tell(body: dict[str, Any], client: WebClient, respond: Respond, text: str) -> None:
    """A notice only the clicker sees. A click on an ephemeral copy (`/hitl next`) may come
    from a channel the bot is not in, so the notice goes through the click's response_url."""
    if _is_ephemeral(body):
        respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        user, channel = body["user"]["id"], body["container"]["channel_id"]
        client.chat_postEphemeral(channel=channel, user=user, text=text)


def _show(ctx: AppContext, body: dict[str, Any], respond: Respond, item_pk: int) -> None:
    """Show the item as it now stands: the channel message (for an ephemeral click, the one
    the outbox row names), and the ephemeral copy clicked, which chat.update cannot reach."""
    answers.refresh_message(ctx, item_pk, where=_where(body))
    if _is_ephemeral(body):
        text, blocks = answers.render_current(ctx, item_pk)
        respond(text=text, blocks=blocks, replace_original=True)


def register(app: App, ctx: AppContext, directory: ReviewerDirectory) -> None:
    def _may_answer(body: dict[str, Any], queue: QueueConfig, user: str) -> bool:
        # A click on the message in the queue's own channel proves the clicker can read it.
        where = _where(body)
        seen_in_channel = where is not None and where[0] == queue.channel
        return directory.may_answer(queue, user, seen_in_channel=seen_in_channel)

    def on_vote(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        user = body["user"]["id"]
        value = action.get("value") or action["selected_option"]["value"]
        item_pk, label_index = parse_vote_value(value)
        queue = answers.queue_of(ctx, item_pk)
        if not _may_answer(body, queue, user):
            _tell(body, client, respond, not_a_reviewer_text(queue.name))
            return
        outcome = answers.vote(
            ctx,
            queue=queue,
            item_pk=item_pk,
            label_index=label_index,
            user_id=user,
            request_key=f"{user}:{action['action_ts']}",
        )
        if outcome.result is VoteResult.RECORDED:
            _show(ctx, body, respond, item_pk)
        elif outcome.result is VoteResult.ALREADY_RESOLVED:
            _tell(body, client, respond, already_answered_text(card_votes(outcome.votes)))
        elif _is_ephemeral(body):  # a duplicate: bring the stale copy up to date
            text, blocks = answers.render_current(ctx, item_pk)
            respond(text=text, blocks=blocks, replace_original=True)

    def on_undo(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        user = body["user"]["id"]
        review_id = int(action["value"])
        result, item_pk = answers.undo(
            ctx, review_id=review_id, user_id=user, request_key=f"{user}:{action['action_ts']}"
        )
        if result is UndoResult.UNDONE:
            _show(ctx, body, respond, item_pk)
        elif result is UndoResult.NOT_YOURS:
            _tell(body, client, respond, undo_not_yours_text())
        elif result is UndoResult.EXPIRED:
            _tell(body, client, respond, undo_expired_text())

    def on_note(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        item_pk = int(action["value"])
        queue = answers.queue_of(ctx, item_pk)
        if not _may_answer(body, queue, body["user"]["id"]):  # notes are answers too
            _tell(body, client, respond, not_a_reviewer_text(queue.name))
            return
        card = answers.item_card(ctx, item_pk)
        view = note_modal(item_pk, queue=card.queue, item_id=card.item_id)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def on_show_fields(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        card = answers.item_card(ctx, int(action["value"]))
        where = _where(body)
        queue = ctx.config.queue(card.queue)
        # The fields are the card's own: shown to whoever can see the card, i.e. someone in the
        # queue's channel, or a reviewer of the queue (`/hitl next` copies).
        if (where is None or where[0] != queue.channel) and not directory.may_answer(
            queue, body["user"]["id"]
        ):
            _tell(body, client, respond, not_a_reviewer_text(queue.name))
            return
        client.views_open(trigger_id=body["trigger_id"], view=fields_modal(card))

    def on_link(ack: Ack) -> None:
        ack()  # Slack opens the URL itself; the click still reaches the app and wants an ack

    app.action(VOTE_ACTION_PATTERN)(on_vote)
    app.action(SHOW_FIELDS_ACTION_ID)(on_show_fields)
    app.action(LINK_ACTION_ID)(on_link)
    app.action(UNDO_ACTION_ID)(on_undo)
    app.action(NOTE_ACTION_ID)(on_note)
