"""Trust in answers, end to end against the Slack stand-in: control items posted, answered and
kept out of training; a blind audit card; a flagged reviewer whose answers stop training; a
rollback that holds while `hitl clock` retrains after answers."""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.runtime import build_context
from bot.schedule.clock import Clock
from bot.settings import Settings
from bot.slack_standin.server import SlackStandin
from storage.labels import resolved_items
from storage.registry import current_version, list_versions
from storage.tables import ControlItem, Item, ReviewMessage
from tests.factories import LABELS, cancer_rows, config_toml, items_for, seed_model
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import API_TOKEN, ServeProcess, run_hitl, vote_button, wait_until

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
#: Confident predictions are audited half the time, and half the messages are control items.
TRUSTED = {"review_below": 0.9, "audit_rate": 0.5, "gold_rate": 0.5}


def posts(standin: SlackStandin, sessions) -> dict[str, dict[str, Any]]:
    """The review messages posted, by the internal id of their item (a control item may show
    the same id as a producer's item: its id only looks like one)."""
    with sessions.begin() as session:
        by_ts = dict(
            session.execute(
                select(ReviewMessage.ts, Item.external_id).join(
                    Item, Item.id == ReviewMessage.item_id
                )
            ).all()
        )
    found = {}
    for call in standin.calls_to("chat.postMessage"):
        payload = (call.params.get("metadata") or {}).get("event_payload") or {}
        ts = call.response.get("ts")
        if "item_id" in payload and ts in by_ts:
            found[by_ts[ts]] = standin.message(call.params["channel"], ts)
    return found


def control_items(sessions) -> dict[str, tuple[str, str]]:
    """internal id → (shown id, true label) of the control items."""
    with sessions.begin() as session:
        rows = session.execute(
            select(Item.external_id, Item.display_id, ControlItem.label).join(
                ControlItem, ControlItem.item_id == Item.id
            )
        ).all()
    return {internal: (shown, label) for internal, shown, label in rows}


def answer_all(serve, standin, sessions, user, *, right: bool, only_controls: bool = False):
    """``user`` answers every posted message (control items from their known truth, the others
    from the data's truth), all right or all wrong; returns how many of each."""
    payloads, y = cancer_rows()
    truth = {item["id"]: y[300 + int(item["id"].split("-")[1])] for item in items_for(120)}
    controls = control_items(sessions)
    answered = {"control": 0, "other": 0}
    for item_id, message in posts(standin, sessions).items():
        is_control = item_id in controls
        if only_controls and not is_control:
            continue
        label = controls[item_id][1] if is_control else truth[item_id]
        index = LABELS.index(label) if right else 1 - LABELS.index(label)
        response = serve.click(
            user=user, channel=CHANNEL, message=message, predicate=vote_button(index)
        )
        assert response.status_code == 200
        answered["control" if is_control else "other"] += 1
    return answered


def test_control_items_are_posted_answered_measured_and_never_trained(
    start_serve, standin, sessions
):
    serve = start_serve(fraud=TRUSTED)
    assert serve.post_items("fraud", items_for(60)).status_code == 200
    wait_until(lambda: control_items(sessions), what="control items")
    controls = control_items(sessions)
    expected = len(controls)
    wait_until(
        lambda: set(controls) <= set(posts(standin, sessions)), timeout=20, what="control posts"
    )

    internal, (shown, truth) = next(iter(controls.items()))
    # Indistinguishable in Slack: an id shaped like the queue's, a blind audit card.
    assert re.fullmatch(r"t-\d+", shown) and not shown.startswith(("gold", "control"))
    message = posts(standin, sessions)[internal]
    assert message["metadata"]["event_payload"]["item_id"] == shown
    card = json.dumps(message["blocks"])
    assert "Audit sample" in card and "Model says" not in card and "gold" not in card
    assert '"style"' not in card  # every label an equal, unstyled choice

    answered = answer_all(serve, standin, sessions, "U0ANNA", right=True)
    assert answered["control"] == expected
    item = serve.http.get(f"/v1/queues/fraud/items/{internal}", headers=AUTH).json()
    assert item["prediction"]["route"] == "gold"
    assert wait_until(lambda: serve.get_item("fraud", internal)["resolved_label"] == truth)

    labels = serve.http.get("/v1/queues/fraud/labels", headers=AUTH).text
    exported = {json.loads(line)["id"] for line in labels.splitlines()}
    assert internal not in exported and shown not in exported
    with sessions.begin() as session:
        trained_on = {r.item_id for r in resolved_items(session=session, queue="fraud")}
    assert not trained_on & set(controls)

    def stats() -> dict[str, Any]:
        return dict(serve.http.get("/v1/queues/fraud/stats", headers=AUTH).json())

    wait_until(lambda: stats()["reviewer_accuracy"].get("U0ANNA", {}).get("control") == expected)
    figures = stats()
    assert figures["control_items"] == expected
    anna = figures["reviewer_accuracy"]["U0ANNA"]
    assert (anna["control"], anna["value"], anna["flagged"]) == (expected, 1.0, False)
    assert sum(figures["routed"].values()) == figures["items"] == 60  # control items apart


def test_an_audit_card_is_blind(start_serve, standin):
    serve = start_serve(fraud={"review_below": 0.0, "audit_rate": 1.0})
    item = items_for(1)[0]
    [scored] = serve.post_items("fraud", [item]).json()["items"]
    assert scored["route"] == "audit"
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    shown = json.dumps(post.params["blocks"]) + post.params["text"]
    assert "Model says" not in shown and "confident" not in shown
    assert post.params["text"] == f"fraud: review item {item['id']}"  # no "model says"
    buttons = [
        e
        for b in post.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("hitl_vote")
    ]
    assert [b["text"]["text"] for b in buttons] == list(LABELS)
    assert all("style" not in b for b in buttons)
    message = standin.message(CHANNEL, post.response["ts"])
    serve.click(user="U0ANNA", channel=CHANNEL, message=message, predicate=vote_button(1))
    assert wait_until(lambda: serve.get_item("fraud", item["id"])["resolved_label"] == "fraud")


def test_a_flagged_reviewers_answers_stop_training(
    start_serve, standin, sessions, database_url, tmp_path
):
    serve = start_serve(fraud=TRUSTED)
    assert serve.post_items("fraud", items_for(80)).status_code == 200
    wait_until(lambda: len(control_items(sessions)) >= 12, what="a dozen control items")
    wait_until(lambda: set(control_items(sessions)) <= set(posts(standin, sessions)), timeout=20)
    bad = answer_all(serve, standin, sessions, "U0BAD", right=False)
    assert bad["control"] >= 12 and bad["other"] > 0

    def flagged() -> list[str]:
        figures = serve.http.get("/v1/queues/fraud/stats", headers=AUTH).json()
        return list(figures["flagged_reviewers"])

    wait_until(lambda: flagged() == ["U0BAD"], what="U0BAD flagged")
    stats = serve.http.get("/v1/queues/fraud/stats", headers=AUTH).json()
    assert stats["flagged_reviewers"] == ["U0BAD"]
    assert stats["reviewer_accuracy"]["U0BAD"]["value"] == 0.0
    with sessions.begin() as session:
        assert resolved_items(session=session, queue="fraud", exclude_users={"U0BAD"}) == []
    done = run_hitl(
        "retrain",
        "fraud",
        database_url=database_url,
        config_path=tmp_path / "hitl.toml",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    with sessions.begin() as session:
        candidate = list_versions(session=session, queue="fraud")[-1]
    assert candidate.version == "fraud-v2"
    assert candidate.info["flagged_reviewers"] == ["U0BAD"]
    assert candidate.info["n_human"] + candidate.info["n_recent"] == 0  # none of theirs


def write_training_csv(path: Path, start: int, n: int) -> Path:
    payloads, y = cancer_rows()
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*payloads[0]["features"], "label"])
        writer.writeheader()
        for i in range(start, start + n):
            writer.writerow({**payloads[i]["features"], "label": y[i]})
    return path


def run_retrain_job(clock: Clock) -> None:
    """Bring the retrain-after-answers job forward to now and wait until it has run."""
    scheduler = wait_until(lambda: clock.scheduler, timeout=20, what="the clock's scheduler")
    scheduler.modify_job("retrain-after-answers", next_run_time=datetime.now(UTC))
    wait_until(
        lambda: (
            scheduler.get_job("retrain-after-answers").next_run_time
            > datetime.now(UTC).astimezone()
        ),
        timeout=30,
        what="the retrain-after-answers job to run",
    )
    time.sleep(0.5)  # the job's own transaction commits after its next run is scheduled


def test_a_rollback_holds_while_the_clock_retrains_after_answers(
    standin, sessions, database_url, tmp_path
):
    """Reported: `hitl rollback tumor tumor-v1`, then `hitl clock` with
    `retrain_after_answers = 10` promoted tumor-v4 minutes later."""
    config = tmp_path / "hitl.toml"
    config.write_text(config_toml(fraud={"review_below": 1.0, "retrain_after_answers": 2}))
    seed_model(sessions)

    def hitl(*args: str) -> str:
        done = run_hitl(*args, database_url=database_url, config_path=config, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    hitl("train", "fraud", str(write_training_csv(tmp_path / "more.csv", 300, 150)), "--force")
    assert "pinned to it" in hitl("rollback", "fraud", "fraud-v1", "--by", "alice")
    serve = ServeProcess(
        database_url=database_url,
        config_path=config,
        standin=standin,
        log_path=tmp_path / "serve.log",
    )
    ctx = build_context(
        Settings(database_url=database_url, hitl_config=config),
        token=standin.bot_token,
        api_url=standin.api_url,
    )
    clock, stop = Clock(ctx, poll=0.1), threading.Event()
    thread = threading.Thread(target=clock.run, args=(stop,))
    thread.start()
    try:
        assert serve.post_items("fraud", items_for(6, start=450)).status_code == 200
        wait_until(lambda: len(posts(standin, sessions)) == 6, timeout=20, what="six posts")
        for message in posts(standin, sessions).values():
            serve.click(user="U0ANNA", channel=CHANNEL, message=message, predicate=vote_button(0))
        run_retrain_job(clock)
        with sessions.begin() as session:
            versions = [v.version for v in list_versions(session=session, queue="fraud")]
            current = current_version(session=session, queue="fraud")
            assert current is not None and current.version == "fraud-v1"
        assert versions == ["fraud-v1", "fraud-v2"]  # no candidate while pinned

        assert "retraining resumes" in hitl("unpin", "fraud")
        run_retrain_job(clock)
        with sessions.begin() as session:
            versions = [v.version for v in list_versions(session=session, queue="fraud")]
        assert versions == ["fraud-v1", "fraud-v2", "fraud-v3"]  # now it retrains
    finally:
        stop.set()
        thread.join(timeout=30)
        serve.stop()
        ctx.engine.dispose()
