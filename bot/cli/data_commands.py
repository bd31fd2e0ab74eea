"""Items in (`ingest`), figures and labels out (`stats`, `digest`, `export`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bot.cli.group import load_settings
from bot.errors import HitlError
from bot.progress import Progress
from bot.runtime import build_context


@click.command()
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
    from bot.review.ingest import BatchError, input_errors, parse_batch, queue_warnings
    from bot.review.ingest import ingest as ingest_batch
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
            batch = parse_batch({"items": items[start : start + batch_size]}, queue=q)
            errors = input_errors(ctx, queue=q, items=batch)  # missing_features = "reject"
            if errors:
                raise BatchError(errors)
            batches.append(batch)
        except BatchError as exc:
            loc = exc.errors[0]["loc"]
            where = records[start + loc[2]].where if len(loc) > 2 else file.name
            field = ".".join(str(part) for part in loc[3:]) or "item"
            raise HitlError(
                f"{where}: {field}: {exc.errors[0]['msg']}; nothing was ingested"
            ) from None
    routes: dict[str, int] = {"review": 0, "audit": 0, "auto": 0}
    warned = 0
    with Progress(len(items), f"ingesting into {q.name}") as bar:
        for batch in batches:
            for answer in ingest_batch(ctx, queue=q, items=batch):
                routes[answer.route] += 1
                warned += bool(answer.warnings)
            bar.update(len(batch))
    click.echo(f"{len(items)} items: " + ", ".join(f"{n} {r}" for r, n in routes.items()))
    if warned:
        click.echo(f"{warned} items with inputs the model cannot vouch for (see their warnings)")
    for warning in queue_warnings(ctx, queue=q):
        click.echo(f"warning: {warning['message']}", err=True)


@click.command()
@click.argument("queue")
def stats(queue: str) -> None:
    """Print QUEUE's figures: volumes, the accuracy of automatic decisions estimated from audit
    answers (weighted by inverse sampling probability) and corrected for reviewer error, with
    95% intervals and what they rest on, and each reviewer's accuracy and flag."""
    from bot.digest.stats import queue_stats
    from bot.figures_text import estimate_text, estimate_with_basis
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
    basis = figures["accuracy_basis"]["note"]
    accuracy = Estimate(**figures["automatic_accuracy"])
    click.echo(f"accuracy of automatic decisions: {estimate_with_basis(accuracy, basis)}")
    click.echo(
        f"reviewers agreed with the model on audits: {shown(figures['automatic_agreement'])}"
    )
    for key in ("positive_precision", "positive_recall"):
        if key in figures:
            click.echo(f"{key.replace('_', ' ')}: {shown(figures[key])}")
    if figures["reviewer_agreement"]:
        kappa = figures["reviewer_agreement"]["fleiss_kappa"]
        click.echo(
            "reviewer agreement (Fleiss' kappa): " + ("n/a" if kappa is None else f"{kappa:.2f}")
        )
    for user, e in figures["reviewer_accuracy"].items():
        plain = {key: e[key] for key in ("value", "low", "high", "n")}
        flag = "; FLAGGED: answers no longer train" if e["flagged"] else ""
        click.echo(
            f"reviewer {user}: {shown(plain)} right on {e['control']} control answers and"
            f" {e['outcomes']} outcomes{flag}"
        )
    for name, values in figures.get("segments", {}).items():
        for value, e in values.items():
            right = {k: e[k] for k in ("value", "low", "high", "n")}
            flag = "  ⚠️ worse than elsewhere" if e["flagged"] else ""
            click.echo(
                f"segment {name} = {value}: automatic decisions right {shown(right)}; "
                f"answers correcting the model {shown(e['corrected'])}{flag}"
            )


@click.command()
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
    from bot.digest import send as digests

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


@click.command()
@click.argument("queue")
def export(queue: str) -> None:
    """Print QUEUE's resolved labels as JSON lines (the same rows as GET /v1/.../labels)."""
    import json

    from bot.api.item_views import label_rows

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    for row in label_rows(ctx.sessions, queue=q.name):
        click.echo(json.dumps(row))


COMMANDS = (
    ingest,
    stats,
    digest,
    export,
)
