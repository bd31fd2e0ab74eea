"""The "Add note" modal: a reviewer's free text about an item, kept with its reviews."""

from __future__ import annotations

from typing import Any

from bot.mrkdwn import escape_and_truncate

NOTE_CALLBACK_ID = "hitl_note_modal"
NOTE_BLOCK_ID, NOTE_INPUT_ID = "note", "note_text"
MAX_NOTE = 3000


def note_modal(item_pk: int, *, queue: str, item_id: str) -> dict[str, Any]:
    """The modal, naming the item the note is about (its id as cards show it: masked)."""
    about = escape_and_truncate(f"About {queue} · {item_id}", 2000)
    return {
        "type": "modal",
        "callback_id": NOTE_CALLBACK_ID,
        "private_metadata": str(item_pk),
        "title": {"type": "plain_text", "text": "Add a note"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "plain_text", "text": about, "emoji": False}},
            {
                "type": "input",
                "block_id": NOTE_BLOCK_ID,
                "label": {"type": "plain_text", "text": "Note"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": NOTE_INPUT_ID,
                    "multiline": True,
                    "max_length": MAX_NOTE,
                },
            },
        ],
    }


def submitted_note(view: dict[str, Any]) -> tuple[int, str]:
    """(item_pk, text) of a submitted note modal."""
    value = view["state"]["values"][NOTE_BLOCK_ID][NOTE_INPUT_ID]["value"] or ""
    return int(view["private_metadata"]), value.strip()
