"""The processes of a deploy (`serve`, `clock`, `db upgrade`, `config check`), and those that
stand in for one: `demo`, and `standin` (the built-in Slack stand-in on its own)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bot.cli.group import load_settings

logger = logging.getLogger(__name__)


@click.command()
@click.option(
    "--socket-mode",
    is_flag=True,
    help="Connect to Slack with SLACK_APP_TOKEN instead of serving a public URL.",
)
@click.option(
    "--standin",
    is_flag=True,
    help="Talk to the built-in Slack stand-in (no workspace needed; the Slack variables are "
    "ignored). /healthz says so.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
def serve(socket_mode: bool, standin: bool, host: str) -> None:
    """Serve Slack (POST /slack/events), the /v1 API, /healthz and /metrics, and deliver review
    messages. Needs SLACK_BOT_TOKEN (checked with Slack at start), or --standin."""
    from bot.server import serve as run

    run(load_settings(), socket_mode=socket_mode, host=host, standin=standin)


@click.command()
def clock() -> None:
    """Run the scheduler: retraining, digests, reminders and delivery retries."""
    from bot.schedule.clock import run_clock

    run_clock(load_settings())


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (the release step of a deploy)."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(load_settings().database_url)
    upgrade(engine)
    click.echo("database is up to date")


@click.group("config")
def config_group() -> None:
    """The queue config file (HITL_CONFIG)."""


@config_group.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def config_check(file: Path | None) -> None:
    """Validate FILE (default: HITL_CONFIG, else hitl.toml) as `hitl serve` and `hitl clock`
    would before reloading it; a bad one ends with one line naming the field, exit code 2."""
    from bot.config import load_config

    path = file if file is not None else load_settings().hitl_config
    config = load_config(path)
    names = ", ".join(config.queues)
    click.echo(f"{path}: valid, {len(config.queues)} queue(s): {names}")


@click.command()
@click.option(
    "--items", "n_items", default=3000, show_default=True, help="Items streamed through the API."
)
@click.option(
    "--seed-size",
    default=2000,
    show_default=True,
    help="Labelled rows the first model is trained on.",
)
@click.option(
    "--error-rate",
    default=0.05,
    show_default=True,
    help="Share of wrong answers of the simulated reviewers.",
)
@click.option(
    "--dataset", type=click.Choice(["fraud", "tweets"]), default="fraud", show_default=True
)
@click.option("--seed", default=0, show_default=True, help="Random seed.")
@click.option(
    "--retrain-every",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="Items streamed between two retrains (0: never).",
)
@click.option(
    "--weeks",
    default=4,
    show_default=True,
    type=click.IntRange(1, 12),
    help="Lay the run out over this many past weeks, so the digest's chart shows a trend.",
)
def demo(
    n_items: int,
    seed_size: int,
    error_rate: float,
    dataset: str,
    seed: int,
    retrain_every: int,
    weeks: int,
) -> None:
    """Run the whole loop on this machine, no Slack workspace needed: a Slack stand-in, the real
    app, a first model trained on real data, items streamed through the API and simulated
    reviewers clicking the buttons."""
    from bot.demo.run import DemoOptions, run_demo

    summary = run_demo(
        DemoOptions(
            n_items=n_items,
            seed_size=seed_size,
            error_rate=error_rate,
            dataset=dataset,
            seed=seed,
            retrain_every=retrain_every,
            weeks=weeks,
        )
    )
    click.echo(summary)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=3999, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--token", default="xoxb-standin", show_default=True, help="The bot token it accepts."
)
@click.option(
    "--user", "users", multiple=True, metavar="ID", help="A user users.info knows (repeatable)."
)
def standin(host: str, port: int, token: str, users: tuple[str, ...]) -> None:
    """Serve the built-in Slack stand-in on its own, for a bot under development to talk to.

    Prints its API URL on the first line (the value for SLACK_API_URL), then logs each call
    until interrupted.
    """
    import threading

    from bot.slack_standin.server import SlackStandin

    standin = SlackStandin(host=host, port=port, bot_token=token)
    for user_id in users:
        standin.add_user(user_id)
    standin.start()
    click.echo(standin.api_url)
    logger.info(
        "point a bot at it with SLACK_API_URL=%s and SLACK_BOT_TOKEN=%s (and "
        "SLACK_APP_TOKEN=%s for --socket-mode); Ctrl-C stops",
        standin.api_url,
        token,
        standin.app_token,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


COMMANDS = (serve, clock, db, config_group, demo, standin)
