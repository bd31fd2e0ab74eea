"""Button clicks on review messages: vote, undo, add a note, show all fields, open the link.

Each listener acknowledges at once and hands the rest to ``AfterAck`` (its own pool, database
retries). A click counts only for the item of the message it was made on, if that item is open
to people and the clicker may answer its queue (``bot.review.click_item``).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

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
from bot.review.click_item import (
    NOT_THIS_MESSAGE,
    Clicked,
    ClickRefused,
    check_click,
    item_of_vote,
)
from bot.review.item_actions import LINK_ACTION_ID, SHOW_FIELDS_ACTION_ID
from bot.review.notes import note_modal
from bot.review.replies import (
    already_answered_text,
    not_a_reviewer_text,
    undo_expired_text,
    undo_not_yours_text,
)
from bot.review.reviewers import ReviewerDirectory
from bot.slack.listeners.after_ack import AfterAck, is_ephemeral, tell
from storage.reviews import UndoResult, VoteResult

logger = logging.getLogger(__name__)


def _clicked(body: dict[str, Any]) -> Clicked:
    """Where the click was made, as Slack reports it."""
    user = str((body.get("user") or {}).get("id") or "")
    container = body.get("container") or {}
    if container.get("is_ephemeral"):
        return Clicked(user=user, private=True)
    if container.get("type") == "message":
        return Clicked(
            user=user, channel=container.get("channel_id"), ts=container.get("message_ts")
        )
    return Clicked(user=user)


def _where(body: dict[str, Any]) -> tuple[str, str] | None:
    """The (channel, ts) of the channel message that was clicked."""
    clicked = _clicked(body)
    if clicked.channel is not None and clicked.ts is not None:
        return clicked.channel, clicked.ts
    return None


def _number(value: object) -> int:
    """A button value that must be an id; anything else is not our button."""
    text = str(value or "")
    if not text.isdigit():
        raise ClickRefused(NOT_THIS_MESSAGE)
    return int(text)


def register(app: App, ctx: AppContext, directory: ReviewerDirectory, after: AfterAck) -> None:
    def show(body: dict[str, Any], respond: Respond, item_pk: int) -> None:
        """Show the item as it now stands: the channel message (for a click on a private card,
        the one the outbox row names), and the private card clicked, which chat.update cannot
        reach."""
        after.retry(
            lambda: answers.refresh_message(ctx, item_pk, where=_where(body)), what="show a vote"
        )
        if is_ephemeral(body):
            text, blocks = after.retry(
                lambda: answers.render_current(ctx, item_pk), what="show a vote"
            )
            respond(text=text, blocks=blocks, replace_original=True)

    def on_vote(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        clicked = _clicked(body)
        value = action.get("value") or (action.get("selected_option") or {}).get("value")
        request_key = f"{clicked.user}:{action.get('action_ts')}"

        def work() -> None:
            try:
                item_pk, label_index = parse_vote_value(str(value or ""))
            except ValueError:
                raise ClickRefused(NOT_THIS_MESSAGE) from None
            target = after.retry(
                lambda: check_click(ctx, directory, item_pk=item_pk, clicked=clicked),
                what="check a click",
            )
            if not 0 <= label_index < len(target.queue.labels):
                raise ClickRefused(NOT_THIS_MESSAGE)
            retried = []
            outcome = after.retry(
                lambda: answers.vote(
                    ctx,
                    queue=target.queue,
                    item_pk=item_pk,
                    label_index=label_index,
                    user_id=clicked.user,
                    request_key=request_key,
                ),
                what="record a vote",
                on_retry=lambda: retried.append(True),
            )
            if outcome.result is VoteResult.RECORDED:
                show(body, respond, item_pk)
            elif outcome.result is VoteResult.ALREADY_RESOLVED:
                tell(body, client, respond, already_answered_text(card_votes(outcome.votes)))
            elif retried:  # a try that failed may have committed: show what is stored
                show(body, respond, item_pk)
            elif is_ephemeral(body):  # a duplicate: bring the stale copy up to date
                text, blocks = answers.render_current(ctx, item_pk)
                respond(text=text, blocks=blocks, replace_original=True)

        after.submit(body, client, respond, work)

    def on_undo(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        clicked = _clicked(body)
        value = action.get("value")
        request_key = f"{clicked.user}:{action.get('action_ts')}"

        def work() -> None:
            review_id = _number(value)
            item_pk = after.retry(lambda: item_of_vote(ctx, review_id), what="check an undo")
            after.retry(
                lambda: check_click(ctx, directory, item_pk=item_pk, clicked=clicked),
                what="check an undo",
            )
            result, item_pk = after.retry(
                lambda: answers.undo(
                    ctx, review_id=review_id, user_id=clicked.user, request_key=request_key
                ),
                what="record an undo",
            )
            if result is UndoResult.UNDONE:
                show(body, respond, item_pk)
            elif result is UndoResult.NOT_YOURS:
                tell(body, client, respond, undo_not_yours_text())
            elif result is UndoResult.EXPIRED:
                tell(body, client, respond, undo_expired_text())

        after.submit(body, client, respond, work)

    def on_note(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        clicked = _clicked(body)
        value, trigger_id = action.get("value"), body.get("trigger_id")

        def work() -> None:
            item_pk = _number(value)
            # Notes are answers too: the same rules as a vote.
            after.retry(
                lambda: check_click(ctx, directory, item_pk=item_pk, clicked=clicked),
                what="check a note",
            )
            card = after.retry(lambda: answers.item_card(ctx, item_pk), what="open a note")
            view = note_modal(item_pk, queue=card.queue, item_id=card.item_id)
            client.views_open(trigger_id=trigger_id, view=view)

        after.submit(body, client, respond, work)

    def on_show_fields(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        user, where = _clicked(body).user, _where(body)
        value, trigger_id = action.get("value"), body.get("trigger_id")

        def work() -> None:
            item_pk = _number(value)
            card = after.retry(lambda: answers.item_card(ctx, item_pk), what="show all fields")
            queue = ctx.config.queue(card.queue)
            # The fields are the card's own: shown to whoever can see the card, i.e. someone in
            # the queue's channel, or a reviewer of the queue (`/hitl next` copies).
            if (where is None or where[0] != queue.channel) and not directory.may_answer(
                queue, user
            ):
                tell(body, client, respond, not_a_reviewer_text(queue.name))
                return
            client.views_open(trigger_id=trigger_id, view=fields_modal(card))

        after.submit(body, client, respond, work)

    def on_link(ack: Ack) -> None:
        ack()  # Slack opens the URL itself; the click still reaches the app and wants an ack

    app.action(VOTE_ACTION_PATTERN)(on_vote)
    app.action(SHOW_FIELDS_ACTION_ID)(on_show_fields)
    app.action(LINK_ACTION_ID)(on_link)
    app.action(UNDO_ACTION_ID)(on_undo)
    app.action(NOTE_ACTION_ID)(on_note)
