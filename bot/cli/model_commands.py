"""A queue's model: first training, retraining behind the gate, versions, rollback."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.group import load_settings
from bot.runtime import build_context, slack_on_the_side


@click.command()
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


@click.command()
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


@click.command()
@click.argument("queue")
def retrain(queue: str) -> None:
    """Retrain QUEUE now and promote the candidate only if the gate lets it through.

    Exits 0 either way, printing `promoted <version>` or `not promoted: <reason>`.
    """
    from bot.schedule.jobs import retrain_queue

    settings = load_settings()
    ctx = build_context(settings)
    q = ctx.config.queue(queue)
    announce = slack_on_the_side(settings, otherwise="the result is not announced in Slack")
    result = retrain_queue(ctx, q, announce=announce)
    click.echo(
        f"promoted {result.version}" if result.promoted else f"not promoted: {result.reason}"
    )


@click.command()
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


COMMANDS = (
    train,
    models,
    retrain,
    rollback,
)
