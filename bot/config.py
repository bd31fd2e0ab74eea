"""The queue config file (TOML), validated by pydantic.

A bad file stops start-up with one line naming the field (``ConfigError``), never a traceback.
Defaults are those of the design; the README documents every field.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Literal

from apscheduler.triggers.cron import CronTrigger
from apscheduler.util import astimezone
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError, UnknownQueue

SLACK_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_PRINCIPAL_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")  # users (U, W) and user groups (S)
QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
#: ``format`` values: how a field's value reads on a card.
FIELD_FORMAT = re.compile(r"^(currency:[A-Z]{3}|percent|integer|datetime|duration)$")
#: ``link`` placeholders: the item's id and its context values.
LINK_FIELD = re.compile(r"^(id|context\.[^{}]+)$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _check_channel(value: str | None) -> str | None:
    if value is not None and not SLACK_CONVERSATION_ID.match(value):
        raise ValueError("must be a Slack channel id such as C0123456789 (not a #name)")
    return value


def _check_principals(value: Sequence[str]) -> Sequence[str]:
    for principal in value:
        if not SLACK_PRINCIPAL_ID.match(principal):
            raise ValueError(f"{principal!r} is not a Slack user (U…/W…) or user group (S…) id")
    return value


def parse_duration(value: object) -> timedelta | None:
    """``"30m"``, ``"4h"``, ``"2d"`` or a whole number of minutes; ``""``/absent is None (off).

    Kept to three units on purpose: a TOML reader sees at once what "4h" means, and a typo
    ("4x", "4 hours", 1.5) is refused rather than guessed at.
    """
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int) and not isinstance(value, bool):
        duration = timedelta(minutes=value)
    elif isinstance(value, str) and (match := DURATION.match(value)):
        duration = timedelta(**{_DURATION_UNITS[match[2]]: int(match[1])})
    else:
        raise ValueError(f"{value!r} is not a duration such as 30m, 4h or 2d")
    if duration <= timedelta(0):
        raise ValueError(f'{value!r} must be longer than zero (write "" to turn it off)')
    return duration


def _check_cron(value: str) -> str:
    if value:
        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a cron expression ({exc})") from None
    return value


class DigestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str | None = None
    users: list[str] = []
    cron: str = "0 9 * * MON"
    timezone: str = "UTC"

    _cron = field_validator("cron")(_check_cron)
    _channel = field_validator("channel")(_check_channel)

    @field_validator("users")
    @classmethod
    def _user_ids(cls, value: list[str]) -> list[str]:
        # Direct messages go to people: a user group (S…) has no DM channel.
        for user in value:
            if not SLACK_USER_ID.match(user):
                raise ValueError(f"{user!r} is not a Slack user id (U… or W…)")
        return value

    @model_validator(mode="after")
    def _has_a_destination(self) -> DigestConfig:
        if self.channel is None and not self.users:
            raise ValueError("a digest needs a channel or users (or write `digest = {}` for none)")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            astimezone(value)  # what the scheduler will do with it
        except Exception:
            raise ValueError(
                f"unknown time zone {value!r} (use a name such as Europe/Paris)"
            ) from None
        return value


class QueueConfig(BaseModel):
    """One review queue: a model, a channel and the rules that route its predictions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    kind: Literal["tabular", "text"]
    channel: str
    labels: tuple[str, ...] = Field(min_length=2)
    review_below: float = Field(default=0.80, ge=0.0, le=1.0)
    audit_rate: float = Field(default=0.02, ge=0.0, le=1.0)
    max_open: int = Field(default=200, ge=1)
    reviewers: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()
    votes_required: int = Field(default=1, ge=1, le=25)
    retrain: str = ""
    retrain_after_answers: int = Field(default=0, ge=0)
    digest: DigestConfig | None = None
    undo_minutes: float = Field(default=5.0, gt=0, le=60)
    priority_field: str | None = None
    # Reminders: a thread reply to a message still unanswered after this long ("4h"); None = off.
    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None
    # The card and the inputs (README: "The card").
    fields: tuple[str, ...] = ()
    hide_fields: tuple[str, ...] = ()
    format: dict[str, str] = Field(default_factory=dict)
    link: str = ""
    mask_fields: tuple[str, ...] = ()
    mask_patterns: bool = True
    missing_features: Literal["review", "reject", "ignore"] = "review"
    segments: tuple[str, ...] = ()
    # Trust in answers: the share of messages that are control items (rows of the trusted
    # labelled data), whether audit and control cards hide the model's answer, and the accuracy
    # under which (95% upper bound) a reviewer's answers stop training the model.
    gold_rate: float = Field(default=0.02, ge=0.0, lt=1.0)
    blind_audit: bool = True
    min_reviewer_accuracy: float = Field(default=0.8, ge=0.0, le=1.0)

    _channel = field_validator("channel")(_check_channel)

    @field_validator("format")
    @classmethod
    def _known_formats(cls, value: dict[str, str]) -> dict[str, str]:
        for name, spec in value.items():
            if not FIELD_FORMAT.match(spec):
                raise ValueError(
                    f"{name} = {spec!r}: expected currency:XXX (an ISO code such as EUR), "
                    "percent, integer, datetime or duration"
                )
        return value

    @field_validator("link")
    @classmethod
    def _link_template(cls, value: str) -> str:
        if not value:
            return value
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http://)")
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
        except ValueError as exc:
            raise ValueError(f"not a template: {exc}") from None
        for name in names:
            if not LINK_FIELD.match(name):
                raise ValueError(f"{{{name}}} is not {{id}} or {{context.NAME}}")
        return value

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("labels must be distinct")
        if any(not label.strip() for label in value):
            raise ValueError("labels must not be empty")
        return value

    _principals = field_validator("reviewers", "admins", "leads")(_check_principals)

    _cron = field_validator("retrain")(_check_cron)

    @field_validator("priority_field")
    @classmethod
    def _no_empty_field(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("remind_after", "escalate_after", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> timedelta | None:
        # mode="before": pydantic's own timedelta parsing would read 30 as 30 *seconds*.
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{info.field_name}: {exc}") from None

    @field_validator("escalate_after")
    @classmethod
    def _escalation_follows_reminder(
        cls, value: timedelta | None, info: ValidationInfo
    ) -> timedelta | None:
        # Fields are validated in order: leads and remind_after are in info.data when valid.
        if value is None:
            return value
        if not info.data.get("leads"):
            raise ValueError("escalate_after needs leads: the user ids to mention when it fires")
        remind = info.data.get("remind_after")
        if remind is not None and value <= remind:
            raise ValueError(
                f"escalate_after ({_show(value)}) must be longer than "
                f"remind_after ({_show(remind)})"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _empty_digest(cls, data: object) -> object:
        # `digest = {}` in the file means "no digest", as the design shows it.
        if isinstance(data, dict) and data.get("digest") == {}:
            data = {**data, "digest": None}
        return data

    @property
    def positive_label(self) -> str | None:
        """The positive class of a binary queue (the second label); None for multi-class."""
        return self.labels[1] if len(self.labels) == 2 else None


def _show(duration: timedelta) -> str:
    """A duration the way the config file writes it (``90m``, ``4h``, ``2d``)."""
    minutes = int(duration.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


class HitlConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queues: dict[str, QueueConfig] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _name_queues(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("queues"), dict):
            queues = {}
            for name, body in data["queues"].items():
                queues[name] = {**body, "name": name} if isinstance(body, dict) else body
            data = {**data, "queues": queues}
        return data

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: dict[str, QueueConfig]) -> dict[str, QueueConfig]:
        for name in value:
            if not QUEUE_NAME.match(name):
                raise ValueError(f"queue name {name!r} must be lower-case letters, digits, - or _")
        return value

    def queue(self, name: str) -> QueueConfig:
        try:
            return self.queues[name]
        except KeyError:
            raise UnknownQueue(name) from None


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"] if part != "__root__")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{source}: {where or 'file'}: {first['msg']}{more}"


def parse_config(text: str, *, source: str = "config") -> HitlConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return HitlConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def load_config(path: Path) -> HitlConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: queue config file not found (set HITL_CONFIG)") from None
    return parse_config(text, source=str(path))
