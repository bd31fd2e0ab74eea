"""A queue's model: training, retraining behind the gate, versions, rollback and unpinning."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import click

from bot.cli.group import load_settings
from bot.runtime import build_context, slack_on_the_side


def _operator() -> str:
    """Who runs the command, as the digest and App Home will name them ("rolled back … by")."""
    try:
        return os.environ.get("HITL_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "hitl CLI"


@click.command()
@click.argument("queue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--label-column", default="label", show_default=True, help="Column holding the label."
)
@click.option(
    "--random-state", default=0, show_default=True, help="Seed of the split and the model."
)
@click.option(
    "--force",
    is_flag=True,
    help="Make the new model current without the gate (and lift a rollback's pin).",
)
def train(queue: str, file: Path, label_column: str, random_state: int, force: bool) -> None:
    """Train QUEUE on a labelled CSV (with a header) or JSONL FILE.

    Every column but the label (and `id`) is a feature; a text queue reads the `text` column.
    A fifth of the data is held out to measure the model and to guard every later retrain. On
    a queue that already has a model, the new one is a candidate that must pass the gate like
    a retrain (prints `promoted <version>` or `not promoted: <reason>`), and the file becomes
    the queue's labelled data only if it is promoted; `--force` makes it current anyway.
    """
    from models.datafiles import labelled_examples, read_records, record_ids
    from models.training import train_from_file

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    records = list(read_records(file))
    payloads, y = labelled_examples(
        records, kind=q.kind, label_column=label_column, labels=q.labels
    )
    with ctx.sessions.begin() as session:
        result = train_from_file(
            session=session,
            queue=q.name,
            kind=q.kind,
            labels=q.labels,
            payloads=payloads,
            y=y,
            external_ids=record_ids(records),
            random_state=random_state,
            force=force,
            min_reviewer_accuracy=q.min_reviewer_accuracy,
        )
        version = result.version
        name = None if version is None else version.version
        n_train = 0 if version is None else version.n_train
        metrics = {} if version is None else version.metrics["holdout"]
    # Printed once committed: whoever reads this line can already score with the new version.
    if name is None:
        click.echo(f"not promoted: {result.reason}")
        return
    click.echo(f"trained {name} on {n_train} rows; held-out metrics:")
    for metric, value in metrics.items():
        if value is not None:
            click.echo(
                f"  {metric}: {value:.4f}" if isinstance(value, float) else f"  {metric}: {value}"
            )
    if result.reason not in ("first model", "forced"):
        click.echo(f"promoted {name}" if result.promoted else f"not promoted: {result.reason}")
    elif result.reason != "first model":
        click.echo(f"{name} is current ({result.reason})")


@click.command()
@click.argument("queue")
def models(queue: str) -> None:
    """List QUEUE's model versions (current one marked with *), each with its hold-out metrics
    and, for a candidate, the gate's figures and its reason."""
    from bot.cli.model_rows import version_lines
    from storage.pins import active_pin
    from storage.registry import list_versions

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    with ctx.sessions.begin() as session:
        versions = list_versions(session=session, queue=q.name)
        if not versions:
            click.echo(f"queue {q.name!r} has no model versions yet")
        for v in versions:
            for line in version_lines(v):
                click.echo(line)
        pin = active_pin(session=session, queue=q.name)
        if pin is not None:
            click.echo(
                f"pinned to {pin.version} by {pin.pinned_by} since {pin.pinned_at:%Y-%m-%d %H:%M}"
                f" UTC: retraining is off until `hitl unpin {q.name}`"
            )


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
@click.option("--by", default=None, help="Who rolls back (default: $HITL_OPERATOR or your login).")
def rollback(queue: str, version: str, by: str | None) -> None:
    """Make VERSION (as `hitl models` prints it) QUEUE's current model again, and pin the queue
    to it: every retrain says `not promoted: pinned to VERSION` until `hitl unpin QUEUE`."""
    from storage.pins import pin

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    with ctx.sessions.begin() as session:
        pin(session=session, queue=q.name, version=version, by=by or _operator())
    click.echo(f"{version} is current; {q.name} is pinned to it until `hitl unpin {q.name}`")


@click.command()
@click.argument("queue")
@click.option("--by", default=None, help="Who unpins (default: $HITL_OPERATOR or your login).")
def unpin(queue: str, by: str | None) -> None:
    """Let QUEUE be retrained again after a rollback (the current version stays current)."""
    from storage.pins import unpin as lift

    ctx = build_context(load_settings())
    q = ctx.config.queue(queue)
    with ctx.sessions.begin() as session:
        lifted = lift(session=session, queue=q.name, by=by or _operator())
    if lifted is None:
        click.echo(f"{q.name} was not pinned")
    else:
        click.echo(f"{q.name} is no longer pinned to {lifted.version}: retraining resumes")


COMMANDS = (
    train,
    models,
    retrain,
    rollback,
    unpin,
)
