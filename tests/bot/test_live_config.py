"""The watcher that keeps a running process's queue config in step with its file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import HitlConfig, load_config
from bot.live_config import ConfigWatcher, describe_change
from tests.factories import config_toml, make_config


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "hitl.toml"
    path.write_text(config_toml(fraud={}))
    return path


def watcher_of(path: Path) -> tuple[ConfigWatcher, list[HitlConfig]]:
    applied: list[HitlConfig] = []
    watcher = ConfigWatcher(path, current=load_config(path), apply=applied.append)
    return watcher, applied


def test_an_unchanged_file_applies_nothing(path):
    watcher, applied = watcher_of(path)
    assert not watcher.check()
    path.write_text(path.read_text() + "\n# a comment changes the bytes, not the config\n")
    assert not watcher.check()
    assert applied == []


def test_a_new_queue_is_applied(path, caplog):
    watcher, applied = watcher_of(path)
    path.write_text(config_toml(fraud={}, chat={"kind": "text", "channel": "C0CHAT"}))
    with caplog.at_level(logging.INFO, logger="bot.live_config"):
        assert watcher.check()
    [config] = applied
    assert set(config.queues) == {"fraud", "chat"}
    assert watcher.current is config
    assert "added chat" in caplog.text


def test_a_bad_file_is_refused_in_one_line_naming_the_field_and_the_old_config_stays(path, caplog):
    watcher, applied = watcher_of(path)
    before = watcher.current
    path.write_text(config_toml(fraud={}, chat={"kind": "text", "channel": "#chat"}))
    with caplog.at_level(logging.INFO, logger="bot.live_config"):
        assert not watcher.check()
        assert not watcher.check()  # the same bad content is reported once
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert "queues.chat.channel" in record.getMessage()
    assert "\n" not in record.getMessage() and record.exc_info is None
    assert applied == [] and watcher.current is before

    path.write_text(config_toml(fraud={}, chat={"kind": "text", "channel": "C0CHAT"}))
    assert watcher.check()
    assert set(applied[0].queues) == {"fraud", "chat"}


def test_a_missing_file_keeps_the_config_until_it_is_back(path):
    watcher, applied = watcher_of(path)
    text = path.read_text()
    path.unlink()  # an editor between removing and renaming
    assert not watcher.check()
    path.write_text(text.replace("0.8", "0.7") if "0.8" in text else text + "review_below = 0.7\n")
    assert watcher.check()
    assert applied[0].queues["fraud"].review_below == 0.7


def test_describe_change_names_queues_added_removed_and_changed():
    old = make_config(fraud={}, chat={"kind": "text"})
    new = make_config(fraud={"review_below": 0.5}, refunds={})
    assert describe_change(old, new) == "added refunds; removed chat; changed fraud"
    assert describe_change(old, old) == "no queue changed"
