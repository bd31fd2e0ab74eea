"""The item's part of a card: why, fields in order and formatted, literal values, masking,
hidden fields, the link, warnings, the "Show all fields" modal."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from bot.masking import Masking
from bot.review.blocks import review_message
from bot.review.card_sections import fields_modal
from bot.review.card_view import CardView, InputWarning, WhyItem
from bot.review.item_actions import item_link
from tests.bot.review.test_blocks import check_limits, make_card

VIEW = CardView(
    fields=("amount", "merchant"),
    hide=frozenset({"internal_score"}),
    formats={"amount": "currency:EUR", "at": "datetime"},
    link="https://backoffice.example.com/tx/{id}?m={context.merchant}",
    masking=Masking.of(["card_number"], mask_patterns=True),
)
WHY = (
    WhyItem("internal_score", 0.9, 3.0),
    WhyItem("amount", 1504.93, 1.8),
    WhyItem("purpose", "car", 0.9),
    WhyItem("v14", -5.25, 0.5),
    WhyItem("hour", 3.0, -0.4),
    WhyItem("v4", 1.0, 0.3),
    WhyItem("v9", 1.0, 0.2),
)


def fraud_card(**changes: Any):  # type: ignore[no-untyped-def]
    features = {f"v{i}": float(i) for i in range(1, 29)}
    features.update(
        {"amount": 1504.93, "purpose": "car", "hour": 3.0, "internal_score": 0.9, "v14": -5.25}
    )
    card = make_card(
        features=features,
        context={
            "merchant": "Jane *Doe* & Co",
            "card_number": "4111 1111 1111 1111",
            "customer_email": "jane@example.com",
            "at": 1714564800,
        },
        explanation=WHY,
        view=VIEW,
        link_url=item_link(VIEW.link, item_id="t 1/2", context={"merchant": "Jane *Doe* & Co"}),
    )
    return replace(card, **changes)


def rich_texts(block: dict[str, Any]) -> str:
    """The words of a rich text block, as a reader reads them."""
    out = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(node["text"])
            elif node.get("type") == "date":
                out.append(node["fallback"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for child in node:
                walk(child)
                if isinstance(child, dict) and child.get("type") == "rich_text_section":
                    out.append("\n")

    walk(block)
    return "".join(out)


def test_why_comes_first_strongest_first_and_signed() -> None:
    fallback, blocks = review_message(fraud_card())
    check_limits(fallback, blocks)
    kinds = [b["type"] for b in blocks]
    assert kinds[:3] == ["header", "section", "rich_text"]  # header, model's answer, why
    why = rich_texts(blocks[2])
    assert why.splitlines() == [
        "Why the model says fraud",
        "amount = €1,504.93 pushes toward fraud",
        "purpose = car pushes toward fraud",
        "v14 = -5.25 pushes toward fraud",
        "hour = 3 pushes toward legit",
        "v4 = 1 pushes toward fraud",
    ]
    assert "internal_score" not in json.dumps(blocks)  # hidden: the next strongest shows


def test_fields_in_order_formatted_then_the_rest_folded() -> None:
    _, blocks = review_message(fraud_card())
    [fields] = [b for b in blocks if b.get("text", {}).get("text") == "*Fields*"]
    names = [f["text"].split("\n")[0].strip("*") for f in fields["fields"]]
    # `fields` first (merchant is context: it comes along), then the why's features, then the rest
    assert names == ["amount", "merchant", "purpose", "v14", "hour", "v4", "v9", "v1", "v2", "v3"]
    assert fields["fields"][0]["text"] == "*amount*\n€1,504.93"
    # shown literally: mrkdwn would have made "Doe" bold, so this one is plain text
    assert fields["fields"][1] == {
        "type": "plain_text",
        "text": "merchant\nJane *Doe* &amp; Co",
        "emoji": False,
    }
    [context] = [b for b in blocks if b.get("text", {}).get("text") == "*Context*"]
    shown = [f["text"] for f in context["fields"]]
    assert shown[0] == "*card_number*\n••••1111"
    assert shown[1] == "*customer_email*\n••••@example.com"
    assert shown[2].startswith("*at*\n<!date^1714564800^")
    [actions] = [b for b in blocks if b.get("block_id") == "hitl_item:42"]
    show, link = actions["elements"]
    assert show["text"]["text"] == "Show all fields (22 more)"
    assert (
        link["url"] == "https://backoffice.example.com/tx/t%201%2F2?m=Jane%20%2ADoe%2A%20%26%20Co"
    )
    assert link["action_id"] == "hitl_link"
    # the item's own actions come before the vote buttons, in a block of their own
    assert blocks.index(actions) == len(blocks) - 2
    assert "4111" not in json.dumps(blocks) and "jane@" not in json.dumps(blocks)


def test_no_link_without_its_context_value() -> None:
    assert item_link(VIEW.link, item_id="t-1", context={}) is None
    assert item_link("", item_id="t-1", context={}) is None
    assert (
        item_link("https://x.example/{id}", item_id="a&b", context={}) == "https://x.example/a%26b"
    )


def test_warnings_name_the_inputs_but_never_hidden_ones() -> None:
    card = fraud_card(
        warnings=(
            InputWarning("missing_features", tuple(f"v{i}" for i in range(1, 12))),
            InputWarning("unknown_features", ("colour", "internal_score")),
        )
    )
    _, blocks = review_message(card)
    [warning] = [b for b in blocks if b["type"] == "rich_text" and "⚠️" in rich_texts(b)]
    text = rich_texts(warning)
    assert text.startswith("⚠️ Inputs the model cannot vouch for: missing v1, v2,")
    assert "and 3 more; not known to the model colour." in text
    assert "internal_score" not in json.dumps(blocks)
    assert "whatever the model's confidence" in text


def test_show_all_fields_modal_has_every_field_but_hidden_ones() -> None:
    modal = fields_modal(fraud_card())
    dump = json.dumps(modal)
    assert modal["type"] == "modal" and len(modal["blocks"]) <= 100
    for name in ("v28", "v1", "amount", "merchant", "customer_email"):
        assert f"{name}" in dump
    assert "internal_score" not in dump and "4111" not in dump
    fields = sum(len(b.get("fields", [])) for b in modal["blocks"])
    assert fields == 32 + 4 - 1  # features and context, minus the hidden one


def test_a_support_card_quotes_both_texts_and_explains_with_words() -> None:
    card = make_card(
        kind="text",
        labels=("bad", "good"),
        predicted="bad",
        features={"text": "Sorry, we can't refund *that* fare."},
        context={
            "customer_message": "Refund my ticket, call me at +44 20 7946 0958",
            "channel": "chat",
        },
        explanation=(WhyItem("text", "refund", 1.2), WhyItem("text", "sorry", -0.4)),
    )
    # cards.card_for masks the texts before they reach the builders; here the builders alone
    _, blocks = review_message(replace(card, context={**card.context}))
    kinds = [b["type"] for b in blocks]
    assert kinds[2] == "rich_text"
    assert rich_texts(blocks[2]).splitlines() == [
        "Why the model says bad",
        "“refund” pushes toward bad",
        "“sorry” pushes toward good",
    ]
    texts = json.dumps(blocks)
    assert "*Customer wrote*" in texts
    # the reply holds mrkdwn that would format: it goes out as rich text, read literally
    [reply] = [b for b in blocks if b["type"] == "rich_text" and "Bot replied" in rich_texts(b)]
    assert "Sorry, we can't refund *that* fare." in rich_texts(reply)
    assert "*channel*\\nchat" in texts
