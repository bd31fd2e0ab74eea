"""Modal submissions."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.context import AppContext
from bot.review.notes import NOTE_BLOCK_ID, NOTE_CALLBACK_ID, submitted_note
from storage.reviews import add_note


def register(app: App, ctx: AppContext) -> None:
    def on_note_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        item_pk, text = submitted_note(view)
        if not text:
            ack(response_action="errors", errors={NOTE_BLOCK_ID: "Write something, or cancel."})
            return
        ack()
        with ctx.sessions.begin() as session:
            add_note(
                session=session,
                item_pk=item_pk,
                user_id=body["user"]["id"],
                text=text,
                request_key=f"note:{view['id']}",
            )

    app.view(NOTE_CALLBACK_ID)(on_note_submitted)
