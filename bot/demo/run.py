"""`hitl demo`: the whole loop on one machine, with no Slack workspace.

It starts the Slack stand-in, trains a first model on a real labelled data set that ships in a
package, starts the real `hitl serve` as a child process, streams the rest of the data through
the HTTP API, and lets simulated reviewers answer the posted messages from the ground truth
(with a share of mistakes) through signed clicks, exactly as Slack would send them.
"""

from __future__ import annotations

import logging
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
import httpx
from sqlalchemy.orm import Session, sessionmaker

from bot.config import parse_config
from bot.demo.reviewers import REVIEWERS, SIGNING_SECRET, Reviewers
from bot.digest.send import send_digest
from bot.progress import Progress
from bot.runtime import build_context
from bot.schedule.jobs import retrain_queue
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from models.datasets import Dataset, airline_of, airline_sentiment, credit_card_fraud
from models.retraining import RetrainResult
from models.training import train_initial
from storage.db import make_engine, make_sessionmaker
from storage.demo_figures import DemoFigures, demo_figures
from storage.demo_time import spread_over_weeks
from storage.migrate import upgrade
from storage.overview import queue_overviews

CHANNEL = "C0DEMOREVIEW"
DIGEST_CHANNEL = "C0DEMOLEADS"
API_TOKEN = "demo-api-token"
BATCH = 100
DATABASE_FILE = "hitl-demo.db"
METRICS_FILE = "metrics.txt"


@dataclass(frozen=True)
class DemoOptions:
    n_items: int = 3000
    seed_size: int = 2000
    error_rate: float = 0.05
    dataset: str = "fraud"
    seed: int = 0
    max_open: int = 50
    review_below: float = 0.9
    audit_rate: float = 0.02
    workdir: Path | None = None
    answer_timeout: float = 60.0
    retrain_every: int = 1000  # items streamed between two retrains; 0 = never
    weeks: int = 4  # the run is laid out over this many past weeks, so the digest has history
    # Control items: more than the default 2%, so a demo-sized run measures its reviewers.
    gold_rate: float = 0.1


#: How the demo's cards look: fields first, formats, a link to a (fictional) back office, and
#: a segment per data set, each a real value of the data (the amount's band, the airline).
CARD_CONFIG = {
    "fraud": (
        'fields = ["amount", "time"]\n'
        'format = { amount = "currency:EUR", time = "duration" }\n'
        'link = "https://backoffice.example.com/transactions/{id}"\n'
        'segments = ["amount_band"]\n'
    ),
    "tweets": (
        'fields = ["airline"]\n'
        'link = "https://support.example.com/conversations/{id}"\n'
        'segments = ["airline"]\n'
    ),
}
AMOUNT_BANDS = ((10.0, "under €10"), (100.0, "€10–100"), (1000.0, "€100–1,000"))


def _config_text(options: DemoOptions, data: Dataset) -> str:
    labels = ", ".join(f'"{label}"' for label in data.labels)
    return (
        f"[queues.{_queue(options)}]\n"
        f'kind = "{data.kind}"\n'
        f'channel = "{CHANNEL}"\n'
        f"labels = [{labels}]\n"
        f"review_below = {options.review_below}\n"
        f"audit_rate = {options.audit_rate}\n"
        f"max_open = {options.max_open}\n"
        f"gold_rate = {options.gold_rate}\n"
        f'digest = {{ channel = "{DIGEST_CHANNEL}" }}\n' + CARD_CONFIG[_queue(options)]
    )


def demo_context(payload: dict[str, object]) -> dict[str, str]:
    """What the demo's producer sends beside the model's input, derived from the real row: a
    transaction's amount band, a tweet's airline."""
    features = payload.get("features")
    if isinstance(features, dict):
        amount = features.get("amount")
        if isinstance(amount, float):
            band = next((b for limit, b in AMOUNT_BANDS if amount < limit), "€1,000 and over")
            return {"amount_band": band}
        return {}
    airline = airline_of(str(payload.get("text", "")))
    return {"airline": airline} if airline else {}


def _queue(options: DemoOptions) -> str:
    return "fraud" if options.dataset == "fraud" else "tweets"


def _load(options: DemoOptions) -> Dataset:
    n = options.seed_size + options.n_items
    if options.dataset == "fraud":
        return credit_card_fraud(n=n, random_state=options.seed)
    return airline_sentiment(n=n, random_state=options.seed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_demo(options: DemoOptions) -> str:
    started = time.monotonic()
    for noisy in ("httpx", "bot.slack_standin", "alembic", "bot.digest.send"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="hitl-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{workdir / DATABASE_FILE}"
    queue = _queue(options)

    click.echo(f"loading the {options.dataset} data set…", err=True)
    data = _load(options)
    n_seed = min(options.seed_size, len(data.y) // 2)
    config_path = workdir / "hitl.toml"
    config_path.write_text(_config_text(options, data))
    parse_config(config_path.read_text(), source=str(config_path))  # fail early if wrong

    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        version = train_initial(
            session=session,
            queue=queue,
            kind=data.kind,
            labels=data.labels,
            payloads=data.payloads[:n_seed],
            y=data.y[:n_seed],
            external_ids=data.ids[:n_seed],  # control items show these real ids
            random_state=options.seed,
        )
        first_version = version.version
    click.echo(f"trained {first_version} on {n_seed} labelled rows ({data.note})", err=True)

    with SlackStandin() as standin:
        standin.add_channel(CHANNEL, "fraud-review")
        standin.add_channel(DIGEST_CHANNEL, "fraud-leads")
        for user, name in zip(REVIEWERS, ("ana", "ben", "chloe"), strict=True):
            standin.add_user(user, name=name)  # the digest names them (users.info)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HITL_CONFIG": str(config_path),
            "SLACK_BOT_TOKEN": standin.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": standin.api_url,
            "HITL_API_TOKEN": API_TOKEN,
            "PORT": str(port),
        }
        log = (workdir / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base, server)
            truth = dict(zip(data.ids, data.y, strict=True))
            reviewers = Reviewers(
                standin=standin,
                events_url=f"{base}/slack/events",
                truth=truth,
                labels=data.labels,
                error_rate=options.error_rate,
                seed=options.seed,
            )
            ctx = build_context(
                Settings(database_url=database_url, hitl_config=config_path),
                token=standin.bot_token,
                api_url=standin.api_url,
                migrate=False,
            )
            retrains: list[RetrainResult] = []
            routes = _stream(
                base,
                queue,
                data,
                n_seed,
                reviewers,
                retrain=lambda: retrains.append(retrain_queue(ctx, ctx.config.queue(queue))),
                retrain_every=options.retrain_every,
            )
            _wait_for_answers(reviewers, sessions, queue, options.answer_timeout)
            reviewers.close()
            if options.weeks > 1:
                spread_over_weeks(
                    sessions=sessions, queue=queue, weeks=options.weeks, now=datetime.now(UTC)
                )
            send_digest(ctx, ctx.config.queue(queue))
            # What a Prometheus scraping this `hitl serve` saw last, kept with the logs.
            (workdir / METRICS_FILE).write_text(httpx.get(f"{base}/metrics", timeout=10).text)
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
    figures = demo_figures(sessions=sessions, queue=queue, truth=truth)
    return _summary(
        options,
        data,
        n_seed,
        first_version,
        routes,
        reviewers,
        figures,
        retrains,
        time.monotonic() - started,
        workdir,
    )


def hitl_command() -> list[str]:
    """`hitl` as a fresh shell can run it: the script beside this interpreter (`.venv/bin/hitl`
    is not on PATH until the venv is activated), else the interpreter running the package."""
    script = Path(sys.executable).with_name("hitl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def digest_command(workdir: Path) -> str:
    """The command that prints the demo's digest, to paste as it is into any shell."""
    env = [
        f"DATABASE_URL={shlex.quote(f'sqlite:///{workdir / DATABASE_FILE}')}",
        f"HITL_CONFIG={shlex.quote(str(workdir / 'hitl.toml'))}",
    ]
    return " ".join([*env, shlex.join(hitl_command()), "digest", "--dry-run"])


def _wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("hitl serve exited at start; see serve.log in the demo folder")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"hitl serve did not become healthy within {timeout:.0f} s")


def _stream(
    base: str,
    queue: str,
    data: Dataset,
    start: int,
    reviewers: Reviewers,
    *,
    retrain: Callable[[], None],
    retrain_every: int,
) -> dict[str, int]:
    routes = {"review": 0, "audit": 0, "auto": 0}
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    total = len(data.y) - start
    with (
        httpx.Client(base_url=base, headers=headers, timeout=30) as http,
        Progress(total, "streaming items") as bar,
    ):
        for offset in range(start, len(data.y), BATCH):
            end = min(offset + BATCH, len(data.y))
            items = [
                {"id": data.ids[i], **data.payloads[i], "context": demo_context(data.payloads[i])}
                for i in range(offset, end)
            ]
            response = http.post(f"/v1/queues/{queue}/items", json={"items": items})
            response.raise_for_status()
            for answer in response.json()["items"]:
                routes[answer["route"]] += 1
            reviewers.answer_new_messages()
            bar.update(end - offset)
            streamed = end - start
            if retrain_every and streamed % retrain_every < BATCH and streamed >= retrain_every:
                reviewers.wait_idle()
                retrain()
    return routes


def _wait_for_answers(
    reviewers: Reviewers, sessions: sessionmaker[Session], queue: str, timeout: float
) -> None:
    """Until no review message is waiting or open (re-scoring after a promotion withdraws
    some, so the count to wait for comes from the database, not from the routes answered)."""

    def unanswered() -> int:
        with sessions.begin() as session:
            o = queue_overviews(session=session, queues=[queue])[queue]
        return o.waiting + o.open

    deadline = time.monotonic() + timeout
    left = unanswered()
    with Progress(left, "reviewers answering") as bar:
        while left and time.monotonic() < deadline:
            reviewers.answer_new_messages()
            time.sleep(0.05)
            now_left = unanswered()
            bar.update(max(0, left - now_left))
            left = now_left


def _summary(
    options: DemoOptions,
    data: Dataset,
    n_seed: int,
    first_version: str,
    routes: dict[str, int],
    reviewers: Reviewers,
    figures: DemoFigures,
    retrains: list[RetrainResult],
    elapsed: float,
    workdir: Path,
) -> str:
    streamed = sum(routes.values())
    pct = lambda n, d: f"{100 * n / d:.1f}%" if d else "n/a"  # noqa: E731
    lines = [
        "",
        f"hitl demo — {data.name} ({data.note})",
        f"  first model        {first_version}, trained on {n_seed} labelled rows",
        f"  items streamed     {streamed} through POST /v1/queues/{_queue(options)}/items"
        + (f", laid out over the last {options.weeks} weeks" if options.weeks > 1 else ""),
        f"  routed             review {routes['review']} · audit {routes['audit']} · "
        f"auto {routes['auto']}",
        f"  messages posted    {figures.posted} (at most {options.max_open} open at once)",
        f"  answers recorded   {figures.votes} from {reviewers.clicks} clicks "
        f"({reviewers.mistakes} deliberate reviewer mistakes, {options.error_rate:.0%})",
        f"  model corrected    {figures.corrected} of {figures.resolved} answered items "
        f"({pct(figures.corrected, figures.resolved)})",
        f"  model right        {pct(figures.auto_right, figures.auto_total)} of automatic "
        f"decisions (ground truth), {pct(figures.reviewed_right, figures.reviewed_total)} "
        "of the items sent to people",
    ]
    for r in retrains:
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
        change = f"{r.metric} on the trusted hold-out {fmt(r.before)} → {fmt(r.after)}"
        verdict = f"promoted {r.version}" if r.promoted else f"kept {r.previous} ({r.reason})"
        lines.append(f"  retrain            {verdict}; {change}")
    lines.append(
        f"  weekly digest      posted to {DIGEST_CHANNEL} with its chart; to read it here:\n"
        f"                     {digest_command(workdir)}"
    )
    lines.append(
        f"  took               {elapsed:.1f} s; database, logs and the last /metrics in {workdir}"
    )
    return "\n".join(lines)
