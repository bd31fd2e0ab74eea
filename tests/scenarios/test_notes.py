""" "Add note": the button opens a modal for reviewers only, the submitted text is stored with
the item's reviews (escaped where shown), and an empty note is refused in the modal."""

from __future__ import annotations

from sqlalchemy import select

from bot.slack_standin.clicks import interactive_body, view_submission_payload
from storage.tables import Review
from tests.factories import items_for
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import action_id

NOTE = "Card used in two countries within an hour <!channel>"


def test_a_reviewer_adds_a_note_and_a_stranger_cannot(start_serve, standin, sessions):
    serve = start_serve(fraud={"review_below": 1.0, "reviewers": ["U0LISTED"]})
    serve.post_items("fraud", items_for(1))
    [post] = standin.wait_for_calls("chat.postMessage", 1)
    message = standin.message(CHANNEL, post.response["ts"])

    refused = serve.click(
        user="U0STRANGER", channel=CHANNEL, message=message, predicate=action_id("hitl_note")
    )
    assert refused.status_code == 200
    [ephemeral] = standin.wait_for_calls("chat.postEphemeral", 1)
    assert ephemeral.params["user"] == "U0STRANGER" and "not a reviewer" in ephemeral.params["text"]
    assert standin.calls_to("views.open") == []

    serve.click(user="U0LISTED", channel=CHANNEL, message=message, predicate=action_id("hitl_note"))
    [opened] = standin.wait_for_calls("views.open", 1)
    modal = opened.response["view"]
    assert modal["callback_id"] == "hitl_note_modal"

    empty = serve.send(
        interactive_body(
            view_submission_payload(
                user_id="U0LISTED", view=modal, values={"note": {"note_text": "   "}}
            )
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert empty.status_code == 200
    assert empty.json() == {
        "response_action": "errors",
        "errors": {"note": "Write something, or cancel."},
    }

    saved = serve.send(
        interactive_body(
            view_submission_payload(
                user_id="U0LISTED", view=modal, values={"note": {"note_text": NOTE}}
            )
        ),
        content_type="application/x-www-form-urlencoded",
    )
    assert saved.status_code == 200 and saved.text == ""
    with sessions.begin() as session:
        notes = session.execute(
            select(Review.user_id, Review.note).where(Review.action == "note")
        ).all()
    assert notes == [("U0LISTED", NOTE)]
    item = serve.get_item("fraud", "t-0")
    assert [(r["user"], r["action"], r["note"]) for r in item["reviews"]] == [
        ("U0LISTED", "note", NOTE)
    ]
