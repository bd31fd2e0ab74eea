"""The process environment: names of the public contract, defaults, normalisation, and a bad
value refused with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import load_settings
from bot.errors import HitlError
from bot.settings import DEFAULT_SLACK_API_URL, Settings

README = Path(__file__).resolve().parents[2] / "README.md"
CONTRACT = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "HITL_API_TOKEN",
    "HITL_CONFIG",
    "PORT",
)


def env_names() -> list[str]:
    return [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable of the contract leaks in from the shell running the tests."""
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_environment_names_are_the_public_contract():
    assert sorted(env_names()) == sorted(CONTRACT)


def test_defaults_without_any_environment():
    settings = Settings()
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite:///hitl.db"
    assert settings.hitl_config == Path("hitl.toml")
    assert settings.port == 3000
    assert settings.slack_bot_token is None
    assert settings.hitl_api_token is None
    assert settings.uses_slack_standin


def test_every_name_is_read_from_the_environment(clean_env):
    values = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": "http://127.0.0.1:3001/api/",
        "DATABASE_URL": "sqlite:////tmp/x.db",
        "HITL_API_TOKEN": "api-token",
        "HITL_CONFIG": "/etc/hitl/queues.toml",
        "PORT": "8080",
    }
    for name, value in values.items():
        clean_env.setenv(name, value)
    settings = Settings()
    read = {}
    for name in CONTRACT:
        value = getattr(settings, name.lower())
        read[name] = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    assert read == {**values, "HITL_CONFIG": Path("/etc/hitl/queues.toml"), "PORT": 8080}
    assert not settings.uses_slack_standin


def test_secrets_do_not_show_in_repr():
    settings = Settings(slack_bot_token="xoxb-very-secret", hitl_api_token="api-very-secret")
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3001/api",
        "http://127.0.0.1:3001/api/",
        "https://slack.example.com/api",
    ],
)
def test_slack_api_url_ends_with_exactly_one_slash(clean_env, url):
    clean_env.setenv("SLACK_API_URL", url)
    value = Settings().slack_api_url
    assert value == url.rstrip("/") + "/"
    assert Settings(slack_api_url=url).slack_api_url == value


def test_the_default_slack_api_url_is_slack():
    assert DEFAULT_SLACK_API_URL == Settings().slack_api_url == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/hitl", "postgresql+psycopg://u:p@db:5432/hitl"),
        (
            "postgresql://u:p@db/hitl?sslmode=require",
            "postgresql+psycopg://u:p@db/hitl?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/hitl", "postgresql+psycopg://u@db/hitl"),
        ("sqlite:///hitl.db", "sqlite:///hitl.db"),
        ("sqlite:////var/lib/hitl/hitl.db", "sqlite:////var/lib/hitl/hitl.db"),
    ],
)
def test_database_url_uses_psycopg_3_for_postgres(clean_env, given, expected):
    clean_env.setenv("DATABASE_URL", given)
    assert Settings().database_url == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "65536"),
        ("PORT", "-1"),
        ("PORT", "http"),
        ("SLACK_API_URL", "slack.com/api"),
        ("SLACK_API_URL", "ftp://slack.com/api/"),
        ("DATABASE_URL", "not a database url"),
        ("DATABASE_URL", "hitl.db"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(HitlError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message


def test_a_port_in_range_is_accepted(clean_env):
    for port in ("1", "65535"):
        clean_env.setenv("PORT", port)
        assert load_settings().port == int(port)


@pytest.mark.parametrize("name", ["HITL_API_TOKEN", "SLACK_BOT_TOKEN", "DATABASE_URL"])
def test_an_empty_variable_counts_as_unset(clean_env, name):
    # `HITL_API_TOKEN=` in a deploy file must not become a token that an empty bearer matches.
    clean_env.setenv(name, "")
    assert getattr(load_settings(), name.lower()) == Settings.model_fields[name.lower()].default


@pytest.mark.parametrize("name", CONTRACT)
def test_every_environment_variable_is_in_the_readme(name):
    text = README.read_text(encoding="utf-8")
    assert f"`{name}`" in text, f"README.md does not document {name}"
