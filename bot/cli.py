"""The `hitl` command. Thin commands whose docstrings are the help; logic lives elsewhere.

Errors a user can act on (a bad config, an unknown queue, no model yet, a bad file) end the
command with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from bot.errors import HitlError
from bot.runtime import build_context, configure_logging
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


@main.command()
@click.option(
    "--socket-mode",
    is_flag=True,
    help="Connect to Slack with SLACK_APP_TOKEN instead of serving a public URL.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Interface to listen on.")
def serve(socket_mode: bool, host: str) -> None:
    """Serve Slack (POST /slack/events), the /v1 API, /healthz and /metrics, and deliver review
    messages. Without SLACK_BOT_TOKEN it talks to a built-in Slack stand-in."""
    from bot.server import serve as run

    run(load_settings(), socket_mode=socket_mode, host=host)


@main.command()
def clock() -> None:
    """Run the scheduler: retraining, digests, reminders and delivery retries."""
    from bot.clock import run_clock

    run_clock(load_settings())


@main.group()
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


@main.command()
@click.argument("queue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--label-column", default="label", show_default=True, help="Column holding the label."
)
@click.option(
    "--random-state", default=0, show_default=True, help="Seed of the split and the model."
)
def train(queue: str, file: Path, label_column: str, random_state: int) -> None:
    """Train QUEUE's first model from a labelled CSV (with a header) or JSONL FILE.

    Every column but the label (and `id`) is a feature; a text queue reads the `text` column.
    A fifth of the data is held out to measure the model and to guard every later retrain.
    """
    from models.datafiles import labelled_examples, read_records
    from models.training import train_initial

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    payloads, y = labelled_examples(
        read_records(file), kind=q.kind, label_column=label_column, labels=q.labels
    )
    with ctx.sessions.begin() as session:
        version = train_initial(
            session=session,
            queue=q.name,
            kind=q.kind,
            labels=q.labels,
            payloads=payloads,
            y=y,
            random_state=random_state,
        )
        name, n_train, metrics = version.version, version.n_train, version.metrics["holdout"]
    # Printed once committed: whoever reads this line can already score with the new version.
    click.echo(f"trained {name} on {n_train} rows; held-out metrics:")
    for metric, value in metrics.items():
        if value is not None:
            click.echo(
                f"  {metric}: {value:.4f}" if isinstance(value, float) else f"  {metric}: {value}"
            )


@main.command()
@click.argument("queue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id-column", default="id", show_default=True)
@click.option(
    "--context-column",
    "context_columns",
    multiple=True,
    help="Column shown to reviewers, not used by the model (repeatable).",
)
@click.option(
    "--ignore-column",
    "ignore_columns",
    multiple=True,
    help="Column to drop, e.g. a label (repeatable).",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 1000))
def ingest(
    queue: str,
    file: Path,
    id_column: str,
    context_columns: tuple[str, ...],
    ignore_columns: tuple[str, ...],
    batch_size: int,
) -> None:
    """Score and route the items of a CSV or JSONL FILE, as the API would (idempotent on id)."""
    from bot.ingest import BatchError, parse_batch
    from bot.ingest import ingest as ingest_batch
    from models.datafiles import read_records, unlabelled_items

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    records = list(read_records(file))
    items = unlabelled_items(
        records,
        kind=q.kind,
        id_column=id_column,
        context_columns=context_columns,
        ignore_columns=ignore_columns,
    )
    # Every batch is checked before any is stored: a bad line ingests nothing.
    batches = []
    for start in range(0, len(items), batch_size):
        try:
            batches.append(parse_batch({"items": items[start : start + batch_size]}, queue=q))
        except BatchError as exc:
            loc = exc.errors[0]["loc"]
            where = records[start + loc[2]].where if len(loc) > 2 else file.name
            field = ".".join(str(part) for part in loc[3:]) or "item"
            raise HitlError(
                f"{where}: {field}: {exc.errors[0]['msg']}; nothing was ingested"
            ) from None
    routes: dict[str, int] = {"review": 0, "audit": 0, "auto": 0}
    with click.progressbar(
        length=len(items), label=f"ingesting into {q.name}", file=sys.stderr
    ) as bar:
        for batch in batches:
            for answer in ingest_batch(ctx, queue=q, items=batch):
                routes[answer.route] += 1
            bar.update(len(batch))
    click.echo(f"{len(items)} items: " + ", ".join(f"{n} {r}" for r, n in routes.items()))


@main.command()
@click.argument("queue")
def models(queue: str) -> None:
    """List QUEUE's model versions (current one marked with *)."""
    from storage.registry import list_versions

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    with ctx.sessions.begin() as session:
        versions = list_versions(session=session, queue=q.name)
        if not versions:
            click.echo(f"queue {q.name!r} has no model versions yet")
        for v in versions:
            holdout = v.metrics.get("holdout", {})
            figures = " ".join(
                f"{k}={val:.4f}" for k, val in holdout.items() if isinstance(val, float)
            )
            mark = "*" if v.state == "current" else " "
            click.echo(f"{v.version}\t{mark} {v.state}\tn_train={v.n_train}\t{figures}")


@main.command()
@click.argument("queue")
def retrain(queue: str) -> None:
    """Retrain QUEUE now and promote the candidate only if the gate lets it through.

    Exits 0 either way, printing `promoted <version>` or `not promoted: <reason>`.
    """
    from bot.jobs import retrain_queue

    ctx = build_context(load_settings())
    result = retrain_queue(ctx, ctx.config.queue(queue))
    click.echo(
        f"promoted {result.version}" if result.promoted else f"not promoted: {result.reason}"
    )


@main.command()
@click.argument("queue")
@click.argument("version")
def rollback(queue: str, version: str) -> None:
    """Make VERSION (as `hitl models` prints it) QUEUE's current model again."""
    from storage.registry import set_current

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    with ctx.sessions.begin() as session:
        set_current(session=session, queue=q.name, version=version)
    click.echo(f"{version} is current")


@main.command()
@click.argument("queue")
def stats(queue: str) -> None:
    """Print QUEUE's figures: volumes, and the accuracy of automatic decisions estimated from
    audit answers (weighted by inverse sampling probability) with 95% intervals."""
    from bot.figures_text import estimate_text
    from bot.stats import queue_stats
    from models.estimates import Estimate

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    with ctx.sessions.begin() as session:
        figures = queue_stats(session=session, queue=q, weekly=False)

    def shown(estimate: dict[str, Any]) -> str:  # figures hold estimates as dicts, for JSON
        return estimate_text(Estimate(**estimate))

    routed = figures["routed"]
    click.echo(f"{q.name} · model {figures['model_version'] or 'none yet'}")
    click.echo(
        f"items {figures['items']} (review {routed['review']}, audit {routed['audit']}, "
        f"auto {routed['auto']}) · answered {figures['answered']} · open {figures['open']} · "
        f"waiting {figures['waiting']}"
    )
    click.echo(f"accuracy of automatic decisions: {shown(figures['automatic_accuracy'])}")
    for key in ("positive_precision", "positive_recall"):
        if key in figures:
            click.echo(f"{key.replace('_', ' ')}: {shown(figures[key])}")
    if figures["reviewer_agreement"]:
        kappa = figures["reviewer_agreement"]["fleiss_kappa"]
        click.echo(
            "reviewer agreement (Fleiss' kappa): " + ("n/a" if kappa is None else f"{kappa:.2f}")
        )
    for user, e in figures["reviewer_accuracy"].items():
        click.echo(f"reviewer {user} vs outcomes: {shown(e)}")


@main.command()
@click.option(
    "--queue", "only", metavar="QUEUE", help="Only this queue (default: every queue with a digest)."
)
@click.option(
    "--dry-run", is_flag=True, help="Print the digest and write the chart to a file; post nothing."
)
@click.option(
    "--chart-dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where --dry-run writes the chart.",
)
def digest(only: str | None, dry_run: bool, chart_dir: Path) -> None:
    """Post the weekly digest now: the last 7 days against the 7 before, chart in the thread."""
    from bot import digest as digests

    settings = load_settings()
    if not dry_run and settings.slack_bot_token is None:
        raise HitlError("SLACK_BOT_TOKEN is not set: nothing to post with (try --dry-run)")
    ctx = build_context(settings)
    queues = digests.digest_queues(ctx, only)
    if not queues:
        raise HitlError("no queue has a digest configured (digest = { channel = ... })")
    failed = False
    for queue in queues:
        if dry_run:
            chart_dir.mkdir(parents=True, exist_ok=True)
            text, path = digests.dry_run(ctx, queue, chart_dir=chart_dir)
            click.echo(text)
            click.echo(f"chart: {path}\n")
        else:
            sent = digests.send_digest(ctx, queue)
            if sent.posts:
                where = ", ".join(conversation for conversation, _ in sent.posts)
                click.echo(f"digest of {queue.name} posted to {where}")
            for problem in sent.problems:
                click.echo(f"error: digest of {queue.name}: {problem}", err=True)
            failed = failed or bool(sent.problems)
    if failed:
        sys.exit(2)


@main.command()
@click.argument("queue")
def export(queue: str) -> None:
    """Print QUEUE's resolved labels as JSON lines (the same rows as GET /v1/.../labels)."""
    import json

    from bot.item_views import label_rows

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    for row in label_rows(ctx.sessions, queue=q.name):
        click.echo(json.dumps(row))


@main.command()
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
def demo(
    n_items: int, seed_size: int, error_rate: float, dataset: str, seed: int, retrain_every: int
) -> None:
    """Run the whole loop on this machine, no Slack workspace needed: a Slack stand-in, the real
    app, a first model trained on real data, items streamed through the API and simulated
    reviewers clicking the buttons."""
    from bot.demo import DemoOptions, run_demo

    summary = run_demo(
        DemoOptions(
            n_items=n_items,
            seed_size=seed_size,
            error_rate=error_rate,
            dataset=dataset,
            seed=seed,
            retrain_every=retrain_every,
        )
    )
    click.echo(summary)


if __name__ == "__main__":
    main()
