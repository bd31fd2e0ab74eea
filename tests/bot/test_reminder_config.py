"""`remind_after` / `escalate_after`: durations as the README writes them, off when absent or
empty, and every mistake refused with one line naming the field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.config import parse_config, parse_duration
from bot.errors import ConfigError
from tests.factories import config_toml

LEADS = {"leads": ["U0LEAD"]}


def queue(**fields: Any):
    return parse_config(config_toml(fraud=fields)).queue("fraud")


def refusal(**fields: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_toml(ok={}, fraud=fields), source="hitl.toml")
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        (" 90m ", timedelta(minutes=90)),
        ("4 h", timedelta(hours=4)),
        (45, timedelta(minutes=45)),  # a bare integer is minutes, not pydantic's seconds
    ],
)
def test_durations_parse(written, expected):
    assert queue(remind_after=written).remind_after == expected


def test_reminders_are_off_by_default_and_when_empty():
    assert queue().remind_after is None and queue().escalate_after is None
    assert queue(remind_after="", escalate_after="").remind_after is None
    assert queue(remind_after="", escalate_after="").escalate_after is None


def test_escalation_alone_or_after_the_reminder():
    alone = queue(escalate_after="1d", **LEADS)
    assert alone.remind_after is None and alone.escalate_after == timedelta(days=1)
    both = queue(remind_after="4h", escalate_after="1d", **LEADS)
    assert (both.remind_after, both.escalate_after) == (timedelta(hours=4), timedelta(days=1))


def test_a_user_group_may_be_a_lead():
    assert queue(escalate_after="1d", leads=["S0LEADS"]).leads == ("S0LEADS",)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"remind_after": "4x"},
            "queues.fraud.remind_after: Value error, remind_after: '4x' is not a duration "
            "such as 30m, 4h or 2d",
        ),
        ({"remind_after": "4 hours"}, "queues.fraud.remind_after: "),
        ({"remind_after": "1.5h"}, "queues.fraud.remind_after: "),
        ({"remind_after": "-5m"}, "queues.fraud.remind_after: "),
        ({"remind_after": 1.5}, "queues.fraud.remind_after: "),
        ({"remind_after": True}, "queues.fraud.remind_after: "),
        ({"remind_after": "PT4H"}, "queues.fraud.remind_after: "),  # ISO 8601: not our form
        ({"remind_after": "0m"}, "remind_after: '0m' must be longer than zero"),
        ({"remind_after": -5}, "queues.fraud.remind_after: "),
        ({"escalate_after": "2d", **LEADS, "remind_after": "x"}, "queues.fraud.remind_after: "),
        ({"escalate_after": "soon", **LEADS}, "escalate_after: 'soon' is not a duration"),
        ({"escalate_after": "1d"}, "queues.fraud.escalate_after: Value error, escalate_after "),
        (
            {"remind_after": "4h", "escalate_after": "2h", **LEADS},
            "queues.fraud.escalate_after: Value error, escalate_after (2h) must be longer "
            "than remind_after (4h)",
        ),
        ({"remind_after": "1d", "escalate_after": "24h", **LEADS}, "(1d) must be longer"),
    ],
    ids=[
        "unit",
        "words",
        "fraction",
        "negative-text",
        "float",
        "bool",
        "iso",
        "zero",
        "negative-int",
        "bad-remind-with-escalation",
        "bad-escalate",
        "no-leads",
        "shorter",
        "equal",
    ],
)
def test_bad_reminder_settings_are_refused_naming_the_field(fields, expected):
    message = refusal(**fields)
    assert message.startswith("hitl.toml: queues.fraud."), message
    assert expected in message, message


def test_escalation_without_leads_says_it_needs_leads():
    assert "escalate_after needs leads" in refusal(escalate_after="1d")
    assert "escalate_after needs leads" in refusal(escalate_after="1d", leads=[])


def test_parse_duration_is_usable_on_its_own():
    assert parse_duration(None) is None
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration(timedelta(hours=1)) == timedelta(hours=1)
    with pytest.raises(ValueError, match="not a duration such as 30m, 4h or 2d"):
        parse_duration("3w")
