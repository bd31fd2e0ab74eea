"""The process environment, read once in an entry point and passed down.

This is the only module that reads ``os.environ``. The names are part of the public contract
(see the README): changing one needs a migration path.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class Settings(BaseSettings):
    """Environment of every `hitl` process."""

    # An empty variable (`HITL_API_TOKEN=` in a deploy file) means unset, not an empty secret.
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", env_ignore_empty=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = "sqlite:///hitl.db"
    hitl_api_token: SecretStr | None = None
    hitl_config: Path = Path("hitl.toml")
    port: int = Field(default=3000, ge=1, le=65535)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base_url and method by plain concatenation.
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _driver(cls, value: str) -> str:
        # Plain postgres URLs (as Heroku and most hosts give them) mean psycopg 3 here.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                value = "postgresql+psycopg://" + value[len(prefix) :]
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("must be a SQLAlchemy URL such as sqlite:///hitl.db") from None
        return value

    @property
    def uses_slack_standin(self) -> bool:
        """No bot token: Slack is out of reach. `hitl serve` then refuses to start unless given
        ``--standin`` (the built-in stand-in); the clock and the CLI warn in one line."""
        return self.slack_bot_token is None
