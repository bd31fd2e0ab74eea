"""The card a reviewer decides on, as the Slack stand-in recorded it from the real `hitl serve`:
a fraud card (why first, formatted fields in order, the link, masked values, a missing-input
warning, "Show all fields") and a support card (the customer's message and the reply, the words
that weighed most)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from models.datasets import airline_sentiment
from models.training import train_initial
from tests.factories import config_toml, items_for
from tests.scenarios.conftest import CHANNEL
from tests.scenarios.harness import ServeProcess, action_id
from tests.scenarios.reading import as_read

pytestmark = pytest.mark.scenario

FRAUD = {
    "review_below": 1.0,
    "fields": ["mean_area", "merchant", "mean_radius"],
    "format": {"mean_area": "currency:EUR", "mean_smoothness": "percent", "seen_at": "datetime"},
    "hide_fields": ["worst_area", "internal_note"],
    "mask_fields": ["card_number"],
    "link": "https://backoffice.example.com/tx/{id}?merchant={context.merchant}",
}


def test_a_fraud_card_reads_in_five_seconds(start_serve, standin):
    serve = start_serve(fraud=FRAUD)
    item = copy.deepcopy(items_for(1)[0])
    del item["features"]["mean_texture"]  # the model was trained with it
    item["features"]["colour"] = "red"  # and never saw this one
    item["id"] = "tx 7/1"
    item["context"] = {
        "merchant": "Jane *Doe* & Co",
        "card_number": "4111 1111 1111 1111",
        "note": "customer jane.doe@example.com, +33 6 12 34 56 78",
        "order": "1234567812345678",  # fails the Luhn check: an order id, shown as it is
        "internal_note": "do not show",
        "seen_at": 1714564800,
    }
    response = serve.post_items("fraud", [item])
    assert response.status_code == 200
    [answer] = response.json()["items"]
    assert answer["route"] == "review"
    assert {w["code"] for w in answer["warnings"]} == {"missing_features", "unknown_features"}

    [post] = standin.wait_for_calls("chat.postMessage", 1)
    blocks = post.params["blocks"]
    posted = json.dumps(blocks, ensure_ascii=False)
    read = as_read(blocks)
    stored = serve.get_item("fraud", "tx 7/1")

    # why first: right under the model's answer, the strongest contributions, signed
    assert [b["type"] for b in blocks[:3]] == ["header", "section", "rich_text"]
    why = as_read([blocks[2]]).splitlines()
    assert why[0] == "Why the model says " + answer["label"]
    assert len(why) == 6 and all(" pushes toward " in line for line in why[1:])
    strongest = [c for c in stored["explanation"] if c["feature"] != "worst_area"][:5]
    assert [line.split(" = ")[0].strip(" •") for line in why[1:]] == [
        c["feature"] for c in strongest
    ]
    # the warning names the inputs the model cannot vouch for
    assert "missing mean_texture; not known to the model colour" in read
    # formatted fields in order: `fields` first, then the why's features, then the rest
    fields_block = next(b for b in blocks if b.get("text", {}).get("text") == "*Fields*")
    names = [f["text"].split("\n")[0].strip("*") for f in fields_block["fields"]]
    assert names[:3] == ["mean_area", "merchant", "mean_radius"]
    assert (
        names[3 : 3 + 4] == [c["feature"] for c in strongest if c["feature"] not in names[:3]][:4]
    )
    mean_area = item["features"]["mean_area"]
    assert fields_block["fields"][0]["text"] == f"*mean_area*\n€{mean_area:,.2f}"
    assert fields_block["fields"][1] == {
        "type": "plain_text",
        "text": "merchant\nJane *Doe* &amp; Co",  # literal: not bold
        "emoji": False,
    }
    # masked values, the order id left alone, hidden fields nowhere
    assert "card_number: ••••1111" in read
    assert "••••@example.com, ••••78" in read
    assert "order: 1234567812345678" in read
    for secret in ("4111", "jane.doe", "12 34 56", "do not show", "internal_note", "worst_area"):
        assert secret not in posted
    assert "seen_at: 2024-05-01 12:00 UTC" in read and "<!date^1714564800^" in posted
    # the link and "Show all fields", in their own actions block before the vote buttons
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [b["block_id"].split(":")[0] for b in actions] == ["hitl_item", "hitl_actions"]
    show, link = actions[0]["elements"]
    assert link["url"] == (
        "https://backoffice.example.com/tx/tx%207%2F1?merchant=Jane%20%2ADoe%2A%20%26%20Co"
    )
    assert show["text"]["text"].startswith("Show all fields (")

    message = standin.message(CHANNEL, post.response["ts"])
    serve.click(
        user="U0ANALYST", channel=CHANNEL, message=message, predicate=action_id("hitl_show_fields")
    )
    [opened] = standin.wait_for_calls("views.open", 1)
    modal = json.dumps(opened.params["view"], ensure_ascii=False)
    assert "worst_perimeter" in modal and "worst_area" not in modal and "4111" not in modal
    serve.click(
        user="U0ANALYST", channel=CHANNEL, message=message, predicate=action_id("hitl_link")
    )
    serve.click(
        user="U0ANALYST", channel=CHANNEL, message=message, predicate=action_id("hitl_note")
    )
    [_, note] = standin.wait_for_calls("views.open", 2)
    assert "About fraud · tx 7/1" in json.dumps(note.params["view"], ensure_ascii=False)
    assert "Unhandled request" not in serve.log()


@pytest.fixture
def support_model(sessions) -> None:
    data = airline_sentiment(n=800, random_state=0)
    with sessions.begin() as session:
        train_initial(
            session=session,
            queue="support",
            kind="text",
            labels=("bad", "good"),
            payloads=data.payloads,
            y=["bad" if y == "negative" else "good" for y in data.y],
        )


def test_a_support_card_quotes_the_exchange(support_model, standin, database_url, tmp_path: Path):
    config = tmp_path / "hitl.toml"
    config.write_text(
        config_toml(
            support={
                "kind": "text",
                "labels": ["bad", "good"],
                "review_below": 1.0,
                "fields": ["order"],
                "link": "https://helpdesk.example.com/conversations/{context.conversation}",
            }
        )
    )
    serve = ServeProcess(
        database_url=database_url, config_path=config, standin=standin, log_path=tmp_path / "s.log"
    )
    try:
        item = {
            "id": "chat-42",
            "text": "Sorry for the delay, your flight is cancelled. Rebook at *no* extra cost.",
            "context": {
                "customer_message": "My flight was cancelled again, call me at 555-123-4567",
                "conversation": "c/991",
                "order": "ABC-7",
            },
        }
        assert serve.post_items("support", [item]).status_code == 200
        [post] = standin.wait_for_calls("chat.postMessage", 1)
    finally:
        serve.stop()
    blocks = post.params["blocks"]
    read = as_read(blocks)
    posted = json.dumps(blocks, ensure_ascii=False)
    [why] = [b for b in blocks if b["type"] == "rich_text" and "Why the model" in as_read([b])]
    assert blocks.index(why) == 2
    words = as_read([why]).splitlines()[1:]
    assert words and all(line.strip(" •").startswith("“") for line in words)
    assert all(line.strip(" •")[1:].split("”")[0] in item["text"].lower() for line in words)
    assert "Customer wrote\n> My flight was cancelled again, call me at ••••67" in read
    assert "Bot replied\n  > Sorry for the delay, your flight is cancelled. Rebook at *no*" in read
    assert "555-123" not in posted
    assert "order: ABC-7" in read and "conversation: c/991" in read
    [link] = [e for b in blocks if b["type"] == "actions" for e in b["elements"] if "url" in e]
    assert link["url"] == "https://helpdesk.example.com/conversations/c%2F991"
