"""The `hitl` group and what every command shares: settings, and one line for user errors.

Errors a user can act on (a bad config, an unknown queue, no model yet, a bad file) end the
command with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
from pydantic import ValidationError

from bot.errors import HitlError
from bot.runtime import configure_logging
from bot.settings import Settings
from models.errors import ModelError
from storage.errors import StorageError

USER_ERRORS = (HitlError, ModelError, StorageError)


class HitlGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.BadParameter as exc:  # e.g. FILE does not exist: one line, not the usage
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(2)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "environment"
        raise HitlError(f"{name}: {first['msg']}") from None


@click.group(cls=HitlGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """hitl-review-bot: people in the loop of a scikit-learn model, in Slack."""
    configure_logging(logging.DEBUG if verbose else logging.INFO)
