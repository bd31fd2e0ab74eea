"""The queue config file: defaults as in the design, and every field refused with ONE line that
names the field path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.config import DigestConfig, HitlConfig, QueueConfig, load_config, parse_config
from bot.errors import ConfigError, UnknownQueue
from tests.factories import config_toml

README = Path(__file__).resolve().parents[2] / "README.md"
DESIGN_DEFAULTS = {
    "review_below": 0.80,
    "audit_rate": 0.02,
    "max_open": 200,
    "reviewers": (),
    "votes_required": 1,
    "retrain": "",
    "digest": None,
}


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="hitl.toml")
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith("hitl.toml: ")
    return message


def test_a_minimal_queue_gets_the_design_defaults():
    config = parse_config(
        '[queues.fraud]\nkind = "tabular"\nchannel = "C0123456789"\nlabels = ["legit", "fraud"]\n'
    )
    queue = config.queue("fraud")
    assert queue.name == "fraud"
    assert queue.kind == "tabular"
    assert queue.channel == "C0123456789"
    assert queue.labels == ("legit", "fraud")
    assert queue.positive_label == "fraud"
    for field, value in DESIGN_DEFAULTS.items():
        assert getattr(queue, field) == value, field


def test_the_design_example_parses_as_written():
    text = """
[queues.fraud]
kind = "tabular"              # tabular | text
channel = "C0123456789"       # where review messages go
labels = ["legit", "fraud"]   # first = negative, second = positive for binary queues
review_below = 0.80
audit_rate = 0.02
max_open = 200
reviewers = []
votes_required = 1
retrain = ""
digest = {}                   # e.g. { channel = "C0999999999", cron = "0 9 * * MON" }

[queues.replies]
kind = "text"
channel = "G0PRIVATE1"
labels = ["good", "bad", "wrong-tool"]
reviewers = ["U012AB3CD", "W0ENTERPRISE", "S0GROUP1"]
votes_required = 2
retrain = "0 3 * * *"
digest = { channel = "C0999999999", cron = "0 9 * * MON", timezone = "Europe/Paris" }
"""
    config = parse_config(text)
    assert list(config.queues) == ["fraud", "replies"]
    assert config.queue("fraud").digest is None
    replies = config.queue("replies")
    assert replies.positive_label is None  # three labels: multi-class
    assert replies.reviewers == ("U012AB3CD", "W0ENTERPRISE", "S0GROUP1")
    assert replies.digest == DigestConfig(
        channel="C0999999999", cron="0 9 * * MON", timezone="Europe/Paris"
    )


def test_digest_with_only_a_channel_gets_the_default_schedule():
    digest = (
        parse_config(config_toml(fraud={"digest": {"channel": "C0999999999"}}))
        .queue("fraud")
        .digest
    )
    assert digest is not None
    assert (digest.channel, digest.cron, digest.timezone) == ("C0999999999", "0 9 * * MON", "UTC")


def test_an_unknown_queue_is_named():
    config = parse_config(config_toml(fraud={}))
    with pytest.raises(UnknownQueue, match="'nope'"):
        config.queue("nope")


def test_queue_config_is_frozen():
    queue = parse_config(config_toml(fraud={})).queue("fraud")
    with pytest.raises(ValueError):
        queue.max_open = 5  # type: ignore[misc]


TO = {"channel": "C0999999999"}
#: (id, fields of the queue or a raw TOML line added to it, path the error must name)
BAD_FIELDS: list[tuple[str, dict[str, Any] | str, str]] = [
    ("kind", {"kind": "image"}, "queues.fraud.kind"),
    ("channel-name", {"channel": "#general"}, "queues.fraud.channel"),
    ("channel-lowercase", {"channel": "c0123"}, "queues.fraud.channel"),
    ("channel-user", {"channel": "U0123456789"}, "queues.fraud.channel"),
    ("duplicate-labels", {"labels": ["fraud", "fraud"]}, "queues.fraud.labels"),
    ("one-label", {"labels": ["fraud"]}, "queues.fraud.labels"),
    ("no-labels", {"labels": []}, "queues.fraud.labels"),
    ("blank-label", {"labels": ["legit", " "]}, "queues.fraud.labels"),
    ("label-not-string", {"labels": ["legit", 1]}, "queues.fraud.labels.1"),
    ("review-below-high", {"review_below": 1.5}, "queues.fraud.review_below"),
    ("review-below-negative", {"review_below": -0.1}, "queues.fraud.review_below"),
    ("review-below-nan", "review_below = nan", "queues.fraud.review_below"),
    ("audit-rate-inf", "audit_rate = inf", "queues.fraud.audit_rate"),
    ("audit-rate-negative", {"audit_rate": -0.1}, "queues.fraud.audit_rate"),
    ("audit-rate-high", {"audit_rate": 1.01}, "queues.fraud.audit_rate"),
    ("max-open-zero", {"max_open": 0}, "queues.fraud.max_open"),
    ("max-open-fraction", {"max_open": 2.5}, "queues.fraud.max_open"),
    ("reviewers-names", {"reviewers": ["alice"]}, "queues.fraud.reviewers"),
    ("reviewers-mention", {"reviewers": ["<@U012AB3CD>"]}, "queues.fraud.reviewers"),
    ("reviewers-channel", {"reviewers": ["C0123456789"]}, "queues.fraud.reviewers"),
    ("reviewers-string", {"reviewers": "U012AB3CD"}, "queues.fraud.reviewers"),
    ("admins", {"admins": ["bob"]}, "queues.fraud.admins"),
    ("leads", {"leads": ["@lead"]}, "queues.fraud.leads"),
    ("votes-zero", {"votes_required": 0}, "queues.fraud.votes_required"),
    ("retrain-words", {"retrain": "every night"}, "queues.fraud.retrain"),
    ("retrain-minute-61", {"retrain": "61 * * * *"}, "queues.fraud.retrain"),
    ("retrain-after-negative", {"retrain_after_answers": -1}, "queues.fraud.retrain_after_answers"),
    ("undo-zero", {"undo_minutes": 0}, "queues.fraud.undo_minutes"),
    ("undo-long", {"undo_minutes": 61}, "queues.fraud.undo_minutes"),
    ("unknown-field", {"review_bellow": 0.5}, "queues.fraud.review_bellow"),
    ("digest-cron", {"digest": {**TO, "cron": "monday"}}, "queues.fraud.digest.cron"),
    ("digest-unknown", {"digest": {"chanel": "C0999999999"}}, "queues.fraud.digest.chanel"),
    ("digest-channel", {"digest": {"channel": "#leads"}}, "queues.fraud.digest.channel"),
    ("digest-users", {"digest": {"users": ["carol"]}}, "queues.fraud.digest.users"),
    ("digest-usergroup", {"digest": {"users": ["S0GROUP1"]}}, "queues.fraud.digest.users"),
    ("digest-nowhere", {"digest": {"cron": "0 9 * * MON"}}, "queues.fraud.digest"),
    ("digest-no-users", {"digest": {"users": []}}, "queues.fraud.digest"),
    (
        "digest-timezone",
        {"digest": {**TO, "timezone": "Mars/Olympus"}},
        "queues.fraud.digest.timezone",
    ),
    ("digest-not-table", {"digest": "weekly"}, "queues.fraud.digest"),
]


@pytest.mark.parametrize(
    ("fields", "path"), [case[1:] for case in BAD_FIELDS], ids=[case[0] for case in BAD_FIELDS]
)
def test_a_bad_field_is_one_line_naming_its_path(fields, path):
    # another, valid queue first: the error must name the queue that is wrong
    if isinstance(fields, str):
        text = config_toml(ok={}, fraud={}) + fields + "\n"
    else:
        text = config_toml(ok={}, fraud=fields)
    message = refusal(text)
    assert message.startswith(f"hitl.toml: {path}: "), message


@pytest.mark.parametrize("field", ["kind", "channel", "labels"])
def test_a_missing_required_field_is_named(field):
    lines = ['kind = "tabular"', 'channel = "C0123456789"', 'labels = ["legit", "fraud"]']
    text = "[queues.fraud]\n" + "\n".join(line for line in lines if not line.startswith(field))
    assert refusal(text).startswith(f"hitl.toml: queues.fraud.{field}: ")


def test_several_errors_name_the_first_and_count_the_rest():
    message = refusal(config_toml(fraud={"channel": "#general", "max_open": 0, "kind": "x"}))
    assert "(and 2 more)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "hitl.toml: queues: "),
        ("[queues]\n", "hitl.toml: queues: "),
        ('title = "x"\n' + config_toml(fraud={}), "hitl.toml: title: "),
        (config_toml(Fraud={}), "hitl.toml: queues: "),
        (config_toml(fraud={}).replace("fraud", '"fraud queue"', 1), "hitl.toml: queues: "),
        ("[queues.fraud\n", "hitl.toml: not valid TOML: "),
        ('[queues.fraud]\nkind = "tabular\n', "hitl.toml: not valid TOML: "),
    ],
    ids=["empty", "no-queues", "unknown-top-level", "upper-case-name", "space", "toml", "toml-str"],
)
def test_a_bad_file_is_one_line(text, expected):
    assert refusal(text).startswith(expected)


def test_digest_empty_table_means_no_digest_and_a_real_one_is_kept():
    assert parse_config(config_toml(fraud={"digest": {}})).queue("fraud").digest is None
    kept = parse_config(config_toml(fraud={"digest": {"channel": "C0999999999"}}))
    assert kept.queue("fraud").digest is not None


def test_empty_priority_field_means_none():
    assert (
        parse_config(config_toml(fraud={"priority_field": ""})).queue("fraud").priority_field
        is None
    )
    queue = parse_config(config_toml(fraud={"priority_field": "amount"})).queue("fraud")
    assert queue.priority_field == "amount"


def test_the_queue_name_comes_from_the_table_not_the_body():
    queue = parse_config(config_toml(fraud={"name": "other"})).queue("fraud")
    assert queue.name == "fraud"


def test_load_config_names_the_file(tmp_path):
    path = tmp_path / "conf.toml"
    path.write_text(config_toml(fraud={"channel": "#general"}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: queues.fraud.channel: ")
    with pytest.raises(ConfigError, match="HITL_CONFIG") as missing:
        load_config(tmp_path / "absent.toml")
    assert "absent.toml" in str(missing.value)
    path.write_text(config_toml(fraud={}))
    assert isinstance(load_config(path), HitlConfig)


# ---------------------------------------------------------------- the README documents them


def _user_fields(model: type) -> list[str]:
    # `name` is the table's key ([queues.NAME]), not something one writes in the table.
    return [name for name in model.model_fields if name != "name"]


@pytest.mark.parametrize(
    "field", [*_user_fields(QueueConfig), *(f"digest.{f}" for f in _user_fields(DigestConfig))]
)
def test_every_config_field_is_in_the_readme(field):
    text = README.read_text(encoding="utf-8")
    name = field.rpartition(".")[2]
    # documented = written as a TOML key (`name = ...`) or quoted as code (`name`)
    pattern = rf"(^|[\s{{,])({re.escape(name)}\s*=)|`{re.escape(name)}`"
    assert re.search(pattern, text, flags=re.MULTILINE), f"README.md does not document {field}"
