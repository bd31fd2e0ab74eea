"""Items with no features, only unknown ones, or all null go through the whole loop without a
crash: scored and routed, posted, answered, shown, re-scored, retrained on, in the digest.
(Whether such items should be refused or flagged is the queue's `missing_features` policy.)"""

from __future__ import annotations

from sqlalchemy import select

from bot.digest.send import send_digest
from bot.schedule.jobs import rescore_waiting, retrain_queue
from storage.tables import ReviewMessage
from tests.bot.slack.live_app import API_TOKEN, live_app
from tests.factories import items_for
from tests.scenarios.harness import vote_button

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
QUEUE = {
    "review_below": 1.0,
    "max_open": 3,
    "priority_field": "mean_area",
    "digest": {"channel": "C0LEADS"},
}


def odd_items(prefix: str) -> list[dict]:
    names = list(items_for(1)[0]["features"])
    return [
        {"id": f"{prefix}-empty", "features": {}},
        {"id": f"{prefix}-unknown", "features": {"zzz": 1, "yyy": "a"}},
        {"id": f"{prefix}-null", "features": dict.fromkeys(names)},
    ]


def test_items_without_usable_features_go_through_the_loop(database_url):
    with live_app(database_url, queues={"fraud": QUEUE}) as app:
        response = app.post_items("fraud", odd_items("a") + odd_items("b"))
        assert response.status_code == 200, response.text
        assert {a["route"] for a in response.json()["items"]} == {"review"}
        app.deliver()
        with app.ctx.sessions.begin() as session:
            states = sorted(m.state for m in session.scalars(select(ReviewMessage)))
        assert states == ["posted"] * 3 + ["waiting"] * 3  # max_open 3: none failed

        posted = [m for m in app.standin.messages("C0REVIEW") if m.get("metadata")]
        for n, message in enumerate(posted):
            app.click(
                user=f"U0REVIEWER{n}", channel="C0REVIEW", message=message, predicate=vote_button(1)
            )
        updates = app.standin.wait_for_calls("chat.update", 3)
        assert all(u.response["ok"] for u in updates)
        for item in odd_items("a") + odd_items("b"):
            shown = app.http.get(f"/v1/queues/fraud/items/{item['id']}", headers=AUTH)
            assert shown.status_code == 200
            assert shown.json()["features"] == item["features"]
        for path in ("stats", "labels"):
            assert app.http.get(f"/v1/queues/fraud/{path}", headers=AUTH).status_code == 200

        queue = app.ctx.config.queue("fraud")
        assert rescore_waiting(app.ctx, queue) == 3
        retrain_queue(app.ctx, queue)  # trains on the answers given to these items
        send_digest(app.ctx, queue)
        assert all(c.response["ok"] for c in app.standin.calls_to("chat.postMessage"))
