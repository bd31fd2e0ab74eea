"""What a reviewer is told privately (ephemeral) when a click changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.mrkdwn import escape_and_truncate, mention

if TYPE_CHECKING:
    from bot.review.blocks import Vote

_LABEL = 60


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
