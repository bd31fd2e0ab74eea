"""Nudging unanswered review messages: a thread reply to the reviewers, later one to the leads.

`hitl clock` runs ``send_reminders`` every minute. A message still unanswered ``remind_after``
after it was posted gets one reply in its thread mentioning the queue's reviewers; one still
unanswered ``escalate_after`` gets one more mentioning the ``leads``. Each is claimed in the
database before the post and released if the post fails (see ``storage.reminders`` for why
that order), so a message is reminded at most once, and a failed post is tried again next run.

A run stops early rather than push against Slack: a 429 ends it at once (the messages not
reached are not claimed, the next run picks them up), and so do errors that would fail every
other post too (Slack down, a revoked token). One run sends at most ``MAX_PER_RUN`` replies, so
it stays short even after the clock was down for a day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from slack_sdk.errors import SlackApiError

from bot.config import QueueConfig
from bot.context import AppContext
from bot.errors import slack_error
from bot.mrkdwn import escape_and_truncate, notify
from bot.review.cards import masking_of
from storage import reminders
from storage.reminders import DueMessage, Stage
from storage.tables import utcnow

logger = logging.getLogger(__name__)

MAX_PER_RUN = 200
ITEM_ID_LIMIT = 200  # of the 255 an id may have; the reply stays far under Slack's 3,000
# Errors that would fail the next post as well: stop the round, try again next run.
STOP_ROUND_ERRORS = frozenset(
    {"ratelimited", "invalid_auth", "not_authed", "account_inactive", "token_revoked"}
)
# Errors no retry can fix for this message (its channel is gone or archived, or the message
# was deleted): keep the claim so it is not tried again every minute.
GIVE_UP_ERRORS = frozenset({"channel_not_found", "is_archived", "thread_not_found"})


class Sent(StrEnum):
    SENT = "sent"
    TAKEN = "taken"  # another run claimed it, or it was answered meanwhile
    RETRY = "retry"  # failed, released for the next run
    GAVE_UP = "gave_up"  # failed for good, stays claimed
    STOP = "stop"  # failed, released, and the round stops here


@dataclass
class ReminderCounts:
    reminded: int = 0
    escalated: int = 0
    failed: int = 0
    stopped: str | None = None  # why the run ended early (Slack's error), None when it did not


# ---------------------------------------------------------------- text (pure)


def waited(duration: timedelta) -> str:
    """A wait in the coarsest unit that still reads right: minutes, hours, then days."""
    minutes = max(int(duration.total_seconds() // 60), 0)
    if minutes < 120:
        amount, unit = minutes, "minute"
    elif minutes < 48 * 60:
        amount, unit = minutes // 60, "hour"
    else:
        amount, unit = minutes // (24 * 60), "day"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def reminder_text(*, item_id: str, reviewers: tuple[str, ...], waited_for: timedelta) -> str:
    """The reply to the reviewers. With no reviewers configured anyone in the channel may
    answer, and it says so in words: it never pings ``@channel`` or ``@here``."""
    who = ", ".join(notify(r) for r in reviewers) if reviewers else "anyone in this channel"
    item = escape_and_truncate(item_id, ITEM_ID_LIMIT)
    return (
        f"⏰ Item `{item}` has waited {waited(waited_for)} for an answer. "
        f"{who}: could you take a look?"
    )


def escalation_text(*, item_id: str, leads: tuple[str, ...], waited_for: timedelta) -> str:
    """The reply to the leads (config validation makes sure there is at least one)."""
    who = ", ".join(notify(lead) for lead in leads)
    item = escape_and_truncate(item_id, ITEM_ID_LIMIT)
    return (
        f"🚨 Item `{item}` is still waiting for answers after {waited(waited_for)}. "
        f"{who}: it needs someone to review it."
    )


# ---------------------------------------------------------------- the job


def send_reminders(
    ctx: AppContext, *, now: datetime | None = None, limit: int = MAX_PER_RUN
) -> ReminderCounts:
    """Send the reminders and escalations that are due, over all queues.

    Escalations go first, so a message past both delays (the clock was down) is escalated
    and not also reminded.
    """
    now = now or utcnow()
    counts = ReminderCounts()
    stages: tuple[Stage, ...] = ("escalate", "remind")
    for stage in stages:
        for queue in ctx.config.queues.values():
            delay = queue.escalate_after if stage == "escalate" else queue.remind_after
            budget = limit - counts.reminded - counts.escalated - counts.failed
            if delay is None or budget <= 0:
                continue
            with ctx.sessions.begin() as session:
                due = reminders.due_messages(
                    session=session,
                    queue=queue.name,
                    stage=stage,
                    posted_before=now - delay,
                    limit=budget,
                )
            for message in due:
                result = _send_one(ctx, queue, stage, message, now=now, counts=counts)
                if result is Sent.STOP:
                    _log(counts)
                    return counts
    _log(counts)
    return counts


def _send_one(
    ctx: AppContext,
    queue: QueueConfig,
    stage: Stage,
    message: DueMessage,
    *,
    now: datetime,
    counts: ReminderCounts,
) -> Sent:
    with ctx.sessions.begin() as session:  # committed before Slack is called
        if not reminders.claim(
            session=session, message_id=message.message_id, stage=stage, now=now
        ):
            return Sent.TAKEN
    waited_for = now - message.posted_at
    item_id = masking_of(queue).text(message.item_id)  # as the card shows it
    if stage == "remind":
        text = reminder_text(item_id=item_id, reviewers=queue.reviewers, waited_for=waited_for)
    else:
        text = escalation_text(item_id=item_id, leads=queue.leads, waited_for=waited_for)
    result, error = _post(ctx, message, text)
    if result is Sent.SENT:
        if stage == "remind":
            counts.reminded += 1
        else:
            counts.escalated += 1
        return result
    counts.failed += 1
    if result is not Sent.GAVE_UP:
        with ctx.sessions.begin() as session:
            reminders.release(session=session, message_id=message.message_id, stage=stage)
    if result is Sent.STOP:
        counts.stopped = error
    return result


def _post(ctx: AppContext, message: DueMessage, text: str) -> tuple[Sent, str | None]:
    """Post the reply; what happened, and Slack's error when it failed."""
    try:
        ctx.client.chat_postMessage(
            channel=message.channel,
            thread_ts=message.ts,
            text=text,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        status = exc.response.status_code
        error = slack_error(exc)
        if status == 429 or status >= 500 or error in STOP_ROUND_ERRORS:
            logger.warning("reminders paused until the next run: Slack answered %s", error)
            return Sent.STOP, error
        if error in GIVE_UP_ERRORS:
            logger.error("no reminder for message %s: %s", message.message_id, error)
            return Sent.GAVE_UP, error
        logger.warning("reminder for message %s failed (%s); next run", message.message_id, error)
        return Sent.RETRY, error
    except Exception as exc:  # timeouts, refused connections: Slack is unreachable for now
        logger.warning("reminders paused until the next run: %s: %s", type(exc).__name__, exc)
        return Sent.STOP, type(exc).__name__
    return Sent.SENT, None


def _log(counts: ReminderCounts) -> None:
    if counts.reminded or counts.escalated or counts.failed:
        logger.info(
            "reminders: %d reminded, %d escalated, %d failed%s",
            counts.reminded,
            counts.escalated,
            counts.failed,
            f" (stopped: {counts.stopped})" if counts.stopped else "",
        )
