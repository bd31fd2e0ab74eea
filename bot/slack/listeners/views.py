"""Modal submissions."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.context import AppContext
from bot.review.notes import NOTE_BLOCK_ID, NOTE_CALLBACK_ID, submitted_note
from bot.slack.listeners.after_ack import AfterAck
from storage.reviews import add_note


def register(app: App, ctx: AppContext, after: AfterAck) -> None:
    def on_note_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        try:
            item_pk, text = submitted_note(view)
        except (KeyError, TypeError, ValueError):
            ack(response_action="errors", errors={NOTE_BLOCK_ID: "This form is not one of ours."})
            return
        if not text:
            ack(response_action="errors", errors={NOTE_BLOCK_ID: "Write something, or cancel."})
            return
        ack()
        user = body["user"]["id"]

        def save() -> None:
            with ctx.sessions.begin() as session:
                add_note(
                    session=session,
                    item_pk=item_pk,
                    user_id=user,
                    text=text,
                    request_key=f"note:{view['id']}",
                )

        after.submit(body, client, respond, lambda: after.retry(save, what="save a note"))

    app.view(NOTE_CALLBACK_ID)(on_note_submitted)
