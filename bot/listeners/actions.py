"""Button clicks on review messages: vote, undo, add a note."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import answers
from bot.blocks import (
    NOTE_ACTION_ID,
    UNDO_ACTION_ID,
    VOTE_ACTION_PATTERN,
    Vote,
    already_answered_text,
    not_a_reviewer_text,
    parse_vote_value,
    undo_expired_text,
    undo_not_yours_text,
)
from bot.context import AppContext
from bot.notes import note_modal
from bot.reviewers import ReviewerDirectory
from storage.reviews import UndoResult, VoteResult

logger = logging.getLogger(__name__)


def _where(body: dict[str, Any]) -> tuple[str, str] | None:
    """The (channel, ts) of the message that was clicked, as Slack reports it."""
    container = body.get("container") or {}
    if container.get("type") == "message" and not container.get("is_ephemeral"):
        return container["channel_id"], container["message_ts"]
    return None


def register(app: App, ctx: AppContext, directory: ReviewerDirectory) -> None:
    def on_vote(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        channel = body["container"]["channel_id"]
        value = action.get("value") or action["selected_option"]["value"]
        item_pk, label_index = parse_vote_value(value)
        queue = answers.queue_of(ctx, item_pk)
        if not directory.may_answer(queue, user):
            client.chat_postEphemeral(
                channel=channel, user=user, text=not_a_reviewer_text(queue.name)
            )
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
            answers.refresh_message(ctx, item_pk, where=_where(body))
        elif outcome.result is VoteResult.ALREADY_RESOLVED:
            votes = tuple(Vote(v.user_id, v.label, v.at, v.review_id) for v in outcome.votes)
            client.chat_postEphemeral(channel=channel, user=user, text=already_answered_text(votes))

    def on_undo(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = body["user"]["id"]
        channel = body["container"]["channel_id"]
        review_id = int(action["value"])
        result = answers.undo(
            ctx, review_id=review_id, user_id=user, request_key=f"{user}:{action['action_ts']}"
        )
        if result is UndoResult.UNDONE:
            answers.refresh_message(ctx, answers.item_of_review(ctx, review_id), where=_where(body))
        elif result is UndoResult.NOT_YOURS:
            client.chat_postEphemeral(channel=channel, user=user, text=undo_not_yours_text())
        elif result is UndoResult.EXPIRED:
            client.chat_postEphemeral(channel=channel, user=user, text=undo_expired_text())

    def on_note(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        item_pk = int(action["value"])
        client.views_open(trigger_id=body["trigger_id"], view=note_modal(item_pk))

    app.action(VOTE_ACTION_PATTERN)(on_vote)
    app.action(UNDO_ACTION_ID)(on_undo)
    app.action(NOTE_ACTION_ID)(on_note)
