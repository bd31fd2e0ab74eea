"""Review message blocks: escaping everywhere, Slack's limits for any input, id-only values."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.review.blocks import Resolution, ReviewCard, Vote, answered_message, review_message
from bot.review.buttons import VOTE_ACTION_PATTERN, parse_vote_value
from bot.review.card_view import CardView
from bot.review.replies import (
    already_answered_text,
    not_a_reviewer_text,
    undo_expired_text,
    undo_not_yours_text,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")
EVIL = "<!channel> <@U123> <https://evil|click> &"
EVIL_ESCAPED = "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt; &amp;"

Blocks = list[dict[str, Any]]


def make_card(**changes: Any) -> ReviewCard:
    card = ReviewCard(
        queue="fraud",
        kind="tabular",
        item_pk=42,
        item_id="t-1",
        labels=("legit", "fraud"),
        predicted="fraud",
        confidence=0.634,
        route="review",
        model_version="v3",
        features={"amount": 12.5, "country": "FR"},
        context={"merchant": "Acme"},
    )
    return replace(card, **changes)


def vote(user_id: str = "U1", label: str = "fraud", at: datetime = T0, review_id: int = 7) -> Vote:
    return Vote(user_id=user_id, label=label, at=at, review_id=review_id)


def render(message: str, card: ReviewCard) -> tuple[str, Blocks]:
    """Both message states of ``card``: unanswered (with a vote so far) and answered."""
    votes = (vote(user_id="<!channel>", label=card.labels[0]), vote(label=card.labels[-1]))
    if message == "review":
        return review_message(card, votes=votes, votes_required=3)
    resolution = Resolution(votes=votes, resolved_label=card.labels[0], votes_required=2)
    return answered_message(card, resolution, now=T0 + timedelta(minutes=1))


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def text_objects(node: Any) -> list[dict[str, Any]]:
    """Every text object (mrkdwn or plain_text), however deep."""
    if isinstance(node, list):
        return [t for child in node for t in text_objects(child)]
    if not isinstance(node, dict):
        return []
    # "text": the text elements of rich text blocks.
    found = [node] if node.get("type") in ("mrkdwn", "plain_text", "text") else []
    return found + [t for value in node.values() for t in text_objects(value)]


def texts(node: Any) -> list[str]:
    """Every string shown to people."""
    return [t["text"] for t in text_objects(node)]


def check_limits(fallback: str, blocks: Blocks) -> None:
    """Slack's documented limits (counted in UTF-16 units, the stricter reading)."""
    assert 1 <= units(fallback) <= 3000
    assert 1 <= len(blocks) <= 50
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    assert all(units(block_id) <= 255 for block_id in block_ids)
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= units(block["text"]["text"]) <= 150
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 1 <= units(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10
            assert all(1 <= units(field["text"]) <= 2000 for field in fields)
        elif kind == "actions":
            elements = block["elements"]
            assert 1 <= len(elements) <= 25
            action_ids = [e["action_id"] for e in elements]
            assert len(action_ids) == len(set(action_ids)), "Slack rejects duplicate action_ids"
            for element in elements:
                assert units(element["action_id"]) <= 255
                if element["type"] == "button":
                    assert 1 <= units(element["text"]["text"]) <= 75
                    assert units(element["value"]) <= 2000
                else:
                    assert element["type"] == "static_select"
                    assert units(element["placeholder"]["text"]) <= 150
                    assert 1 <= len(element["options"]) <= 100
                    for option in element["options"]:
                        assert 1 <= units(option["text"]["text"]) <= 75
                        assert units(option["value"]) <= 150
        elif kind == "rich_text":
            assert block["elements"]
        else:
            pytest.fail(f"unexpected block type {kind}")
    # The undocumented cumulative limit (msg_blocks_too_long) is near 12,000 characters.
    assert sum(units(t) for t in texts(blocks)) <= 10_000


def vote_elements(blocks: Blocks) -> list[dict[str, Any]]:
    return [
        element
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if VOTE_ACTION_PATTERN.match(element["action_id"])
    ]


def vote_values(blocks: Blocks) -> list[str]:
    values = []
    for element in vote_elements(blocks):
        if element["type"] == "button":
            values.append(element["value"])
        else:
            values += [option["value"] for option in element["options"]]
    return values


HOSTILE = make_card(
    queue="q<!channel>&",
    item_id="<!channel>&id",
    labels=("<@U123>&no", "<https://evil|click>&yes"),
    predicted="<https://evil|click>&yes",
    model_version="v<!here>&",
    features={"<!everyone>&key": EVIL, "text": EVIL},
    context={"ctx<!channel>&": "<!subteam^S1>&", "customer_message": EVIL},
    text="reply " + EVIL,
)
VARIANTS = [
    pytest.param({}, id="tabular-binary"),
    pytest.param({"labels": HOSTILE.labels + ("maybe<@U9>",)}, id="tabular-multiclass"),
    pytest.param({"kind": "text"}, id="text-binary"),
    pytest.param({"kind": "text", "labels": HOSTILE.labels + ("maybe<@U9>",)}, id="text-multi"),
]


@pytest.mark.parametrize("message", ["review", "answered"])
@pytest.mark.parametrize("changes", VARIANTS)
def test_item_text_is_escaped_everywhere(message: str, changes: dict[str, Any]) -> None:
    card = replace(HOSTILE, **changes)
    fallback, blocks = render(message, card)
    dump = json.dumps(blocks, ensure_ascii=False)
    for live in ("<!channel", "<!here", "<!everyone", "<!subteam", "<@U123", "<@U9", "<http"):
        assert live not in dump
        assert live not in fallback
    for shown in texts(blocks) + [fallback]:
        assert not BARE_AMPERSAND.search(shown), shown
    # verbatim: Slack does no automatic parsing (links, bare @here) of the text either.
    assert all(t.get("verbatim") is True for t in text_objects(blocks) if t["type"] == "mrkdwn")
    # Escaped, not dropped: each place the item's text appears is in the message.
    expected = [
        "q&lt;!channel&gt;&amp;",
        "&lt;!channel&gt;&amp;id",
        "&lt;https://evil|click&gt;&amp;yes",
        "v&lt;!here&gt;&amp;",
        "&lt;!subteam^S1&gt;&amp;",
        "ctx&lt;!channel&gt;&amp;",
    ]
    if card.kind == "text":
        expected += [f"reply {EVIL_ESCAPED}", f"> {EVIL_ESCAPED}"]  # reply, customer message
    else:
        expected += ["&lt;!everyone&gt;&amp;key", EVIL_ESCAPED]
    for text in expected:
        assert text in dump
    assert "&lt;!channel&gt;&amp;id" in fallback
    if message == "answered":
        assert "&lt;@U123&gt;&amp;no" in dump  # the answered label
        assert "&lt;!channel&gt; answered" in dump  # a voter id that is not a user id


def huge_card(kind: str, n_labels: int, shape: str) -> ReviewCard:
    """Long everything ("long": 200 fields of 10,000 characters) or very many tiny fields."""
    labels = tuple(f"{i}" * 200 for i in range(n_labels))
    if shape == "long":
        features: dict[str, Any] = {f"f{i:03d}" + "k" * 200: "&" * 10_000 for i in range(200)}
        context: dict[str, Any] = {f"c{i:03d}": "😀" * 10_000 for i in range(200)}
    else:
        features = {f"f{i}": i for i in range(1000)}
        context = {f"c{i}": "" for i in range(1000)}
    return make_card(
        kind=kind,
        item_id="<" * 3000,
        labels=labels,
        predicted=labels[1],
        model_version="&" * 500,
        features=features,
        context=context,
        text="x\n" * 10_000,
        customer_message="<>&" * 10_000,
        queue="q" * 300,
    )


@pytest.mark.parametrize("message", ["review", "answered"])
@pytest.mark.parametrize("kind", ["tabular", "text"])
@pytest.mark.parametrize("n_labels", [2, 3, 150])
@pytest.mark.parametrize("shape", ["long", "many"])
def test_limits_hold_for_huge_items(message: str, kind: str, n_labels: int, shape: str) -> None:
    card = huge_card(kind, n_labels, shape)
    votes = tuple(vote(label=card.labels[0], review_id=i) for i in range(25))
    if message == "review":
        fallback, blocks = review_message(card, votes=votes, votes_required=25)
    else:
        resolution = Resolution(votes=votes, resolved_label=card.labels[0], votes_required=25)
        fallback, blocks = answered_message(card, resolution, now=T0)
    check_limits(fallback, blocks)
    # Every field is either shown or counted on the "Show all fields (N more)" button.
    dump = json.dumps(blocks, ensure_ascii=False)
    shown = sum(len(b.get("fields", [])) for b in blocks)
    hidden = sum(int(n) for n in re.findall(r"Show all fields \((\d+) more\)", dump))
    assert shown > 0
    assert shown + hidden == len(card.features) + len(card.context)


def test_fields_beyond_ten_are_folded_behind_show_all_fields() -> None:
    card = make_card(features={f"f{i}": i for i in range(25)}, context={})
    _, blocks = review_message(card)
    sections = [b for b in blocks if "fields" in b]
    assert [len(b["fields"]) for b in sections] == [10]
    assert sections[0]["text"]["text"] == "*Fields*"
    assert sections[0]["fields"][3]["text"] == "*f3*\n3"
    [show] = [
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "hitl_show_fields"
    ]
    assert show["text"]["text"] == "Show all fields (15 more)" and show["value"] == "42"


def test_every_configured_field_shows_even_past_ten() -> None:
    names = [f"f{i}" for i in range(25)]
    card = make_card(
        features={name: 1 for name in names}, context={}, view=CardView(fields=tuple(names[:12]))
    )
    _, blocks = review_message(card)
    assert [len(b["fields"]) for b in blocks if "fields" in b] == [10, 2]
    assert "Show all fields (13 more)" in json.dumps(blocks)


def test_context_fields_have_their_own_heading() -> None:
    _, blocks = review_message(make_card(context={"merchant": "A&B"}))
    context = [b for b in blocks if b.get("text", {}).get("text") == "*Context*"]
    assert len(context) == 1
    assert context[0]["fields"] == [
        {"type": "mrkdwn", "text": "*merchant*\nA&amp;B", "verbatim": True}
    ]


@pytest.mark.parametrize(
    ("changes", "buttons", "select"),
    [
        pytest.param(
            {},
            [("Confirm fraud", None, "42:1"), ("Reject → legit", None, "42:0")],
            None,
            id="tabular-binary",
        ),
        pytest.param(
            {"labels": ("a", "fraud", "b")},
            [("Confirm fraud", None, "42:1")],
            ["42:0", "42:2"],
            id="tabular-multiclass",
        ),
        pytest.param(
            {"kind": "text", "labels": ("bad", "good"), "predicted": "good"},
            [("👍 Agree: good", None, "42:1"), ("👎 Disagree → bad", None, "42:0")],
            None,
            id="text-binary",
        ),
        pytest.param(
            {"kind": "text", "labels": ("bad", "good", "meh"), "predicted": "bad"},
            [("👍 Agree: bad", None, "42:0")],
            ["42:1", "42:2"],
            id="text-multiclass",
        ),
        pytest.param(
            {"labels": ("a", "b"), "predicted": "retired-label"},
            [],
            ["42:0", "42:1"],
            id="prediction-not-a-label",
        ),
    ],
)
def test_vote_elements(
    changes: dict[str, Any], buttons: list[tuple[str, str | None, str]], select: list[str] | None
) -> None:
    """Button styles never nudge: no green Confirm, no red Reject on an ordinary card."""
    fallback, blocks = review_message(make_card(**changes))
    check_limits(fallback, blocks)
    actions = blocks[-1]
    assert actions["type"] == "actions"
    assert actions["block_id"] == "hitl_actions:42"
    elements = actions["elements"]
    got = [
        (e["text"]["text"], e.get("style"), e["value"])
        for e in elements
        if e["type"] == "button" and e["action_id"] != "hitl_note"
    ]
    assert got == buttons
    selects = [e for e in elements if e["type"] == "static_select"]
    if select is None:
        assert selects == []
    else:
        assert [o["value"] for o in selects[0]["options"]] == select
        assert "Correct to…" in selects[0]["placeholder"]["text"]
    assert elements[-1] == {
        "type": "button",
        "action_id": "hitl_note",
        "value": "42",
        "text": {"type": "plain_text", "text": "Add note", "emoji": True},
    }
    assert all(VOTE_ACTION_PATTERN.match(e["action_id"]) for e in elements[:-1])


@pytest.mark.parametrize(
    ("labels", "predicted"),
    [(("legit", "fraud"), "fraud"), (("legit", "fraud"), "legit"), (("a", "b", "c"), "c")],
)
def test_a_blind_audit_card_hides_the_model_and_offers_every_label_alike(
    labels: tuple[str, ...], predicted: str
) -> None:
    card = make_card(route="audit", blind=True, labels=labels, predicted=predicted, confidence=0.97)
    votes = (vote(label=labels[0]),)
    fallback, blocks = review_message(card, votes=votes, votes_required=2)
    check_limits(fallback, blocks)
    shown = json.dumps(blocks, ensure_ascii=False) + fallback
    assert "Model says" not in shown and "97%" not in shown and "confident" not in shown
    assert "confirmed" not in shown and "corrected" not in shown
    assert "Confirm" not in shown and "Reject" not in shown and "Correct to" not in shown
    assert "Audit sample" in shown and "Which label is right?" in shown
    buttons = [e for e in blocks[-1]["elements"] if e["action_id"] != "hitl_note"]
    assert [(b["text"]["text"], b.get("style"), b["value"]) for b in buttons] == [
        (label, None, f"42:{i}") for i, label in enumerate(labels)
    ]
    assert len({b["action_id"] for b in buttons}) == len(buttons)
    assert all(VOTE_ACTION_PATTERN.match(b["action_id"]) for b in buttons)
    # The same item as an ordinary audit card, not blind, does say it.
    _, seen = review_message(replace(card, blind=False))
    assert "Model says" in json.dumps(seen)


def test_a_blind_card_with_many_labels_offers_them_all_in_one_select() -> None:
    labels = tuple(f"label-{i}" for i in range(8))
    card = make_card(route="audit", blind=True, labels=labels, predicted="label-3")
    fallback, blocks = review_message(card)
    check_limits(fallback, blocks)
    (select,) = [e for e in blocks[-1]["elements"] if e["type"] == "static_select"]
    assert [o["value"] for o in select["options"]] == [f"42:{i}" for i in range(8)]
    assert "Correct" not in select["placeholder"]["text"]


@pytest.mark.parametrize("changes", VARIANTS)
def test_vote_values_carry_only_ids(changes: dict[str, Any]) -> None:
    card = replace(HOSTILE, item_pk=987654, **changes)
    _, blocks = review_message(card)
    values = vote_values(blocks)
    assert len(values) == len(card.labels)
    assert all(re.fullmatch(r"\d+:\d+", value) for value in values)
    parsed = [parse_vote_value(value) for value in values]
    assert {pk for pk, _ in parsed} == {987654}
    assert sorted(index for _, index in parsed) == list(range(len(card.labels)))


@pytest.mark.parametrize("value", ["", "42", "a:1", "1:b", "1:2:3", "-1:0", "1:"])
def test_parse_vote_value_rejects_malformed_values(value: str) -> None:
    with pytest.raises(ValueError):
        parse_vote_value(value)


@pytest.mark.parametrize(
    ("confidence", "shown"), [(0.634, "63%"), (0.5, "50%"), (0.999, "99%"), (1.0, "100%")]
)
def test_prediction_and_confidence(confidence: float, shown: str) -> None:
    fallback, blocks = review_message(make_card(confidence=confidence))
    assert f"Model says *fraud* ({shown} confident)" in blocks[1]["text"]["text"]
    assert shown in fallback


def test_header_names_queue_and_item() -> None:
    _, blocks = review_message(make_card())
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "fraud · t-1"


@pytest.mark.parametrize(("route", "audit"), [("audit", True), ("review", False)])
def test_audit_sample_is_explained(route: str, audit: bool) -> None:
    _, blocks = review_message(make_card(route=route))
    summary = blocks[1]["text"]["text"]
    assert ("Audit sample" in summary) is audit
    assert "model v3" in summary


def test_text_queue_quotes_customer_and_reply_from_item_fields() -> None:
    card = make_card(
        kind="text",
        labels=("bad", "good"),
        predicted="good",
        features={"text": "Try turning it off\nand on"},
        context={"customer_message": "My router is broken", "tier": "gold"},
    )
    _, blocks = review_message(card)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert "*Customer wrote*\n> My router is broken" in sections
    assert "*Bot replied*\n> Try turning it off\n> and on" in sections
    dump = json.dumps(blocks)
    assert dump.count("My router is broken") == 1  # not repeated as a context field
    assert dump.count("Try turning it off") == 1
    assert "*tier*\\ngold" in dump


def test_partial_votes_are_shown_with_buttons() -> None:
    card = make_card()
    _, blocks = review_message(card, votes=(vote(user_id="U1"),), votes_required=2)
    dump = json.dumps(blocks, ensure_ascii=False)
    assert "Votes so far (1 of 2 needed)" in dump
    assert "<@U1> answered *fraud* at <!date^1714564800^" in dump
    assert len(vote_values(blocks)) == 2


def test_unanswered_message_shows_no_votes_section() -> None:
    _, blocks = review_message(make_card())
    assert "Votes so far" not in json.dumps(blocks)


def answered(votes: tuple[Vote, ...], resolved: str | None, *, now: datetime) -> tuple[str, Blocks]:
    resolution = Resolution(votes=votes, resolved_label=resolved, votes_required=len(votes))
    return answered_message(make_card(), resolution, now=now, undo_window=timedelta(minutes=5))


def undo_buttons(blocks: Blocks) -> list[dict[str, Any]]:
    return [
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "hitl_undo"
    ]


@pytest.mark.parametrize(
    ("after", "undo"),
    [(timedelta(0), True), (timedelta(minutes=4, seconds=59), True), (timedelta(minutes=5), False)]
    + [(timedelta(hours=3), False)],
)
def test_undo_only_inside_the_window(after: timedelta, undo: bool) -> None:
    _, blocks = answered((vote(review_id=7),), "fraud", now=T0 + after)
    buttons = undo_buttons(blocks)
    assert len(buttons) == int(undo)
    if undo:
        assert buttons[0]["value"] == "7"
    else:
        assert not any(b["type"] == "actions" for b in blocks)


def test_undo_carries_the_latest_vote() -> None:
    votes = (vote("U2", review_id=9, at=T0 + timedelta(minutes=2)), vote("U1", review_id=8))
    _, blocks = answered(votes, "fraud", now=T0 + timedelta(minutes=3))
    assert [b["value"] for b in undo_buttons(blocks)] == ["9"]


def test_answered_message_has_no_vote_buttons() -> None:
    _, blocks = answered((vote(),), "fraud", now=T0)
    assert vote_elements(blocks) == []
    assert "hitl_note" not in json.dumps(blocks)


@pytest.mark.parametrize(
    ("label", "overall", "each"),
    [
        ("fraud", "*Resolved: fraud*, confirming the model", "(confirmed)"),
        ("legit", "*Resolved: legit*, correcting (it said fraud) the model", "(corrected)"),
    ],
)
def test_answered_message_says_who_what_when(label: str, overall: str, each: str) -> None:
    fallback, blocks = answered((vote("U1", label=label),), label, now=T0)
    text = blocks[-2]["text"]["text"]
    assert text.startswith(overall)
    assert f"✅ <@U1> answered *{label}* at <!date^1714564800^" in text
    assert text.endswith(each)
    assert fallback == f"fraud: item t-1 answered: {label}"


def test_a_tie_says_the_votes_are_split_not_that_more_are_needed() -> None:
    votes = (vote(label="legit", review_id=6), vote(user_id="U2", label="fraud"))
    fallback, blocks = answered(votes, None, now=T0)
    dump = json.dumps(blocks, ensure_ascii=False)
    assert "No answer: the 2 votes are split evenly" in dump
    assert "Waiting for more votes" not in dump and "Resolved:" not in dump
    assert len(undo_buttons(blocks)) == 1  # the latest voter may still change their mind
    assert fallback == "fraud: item t-1 answered: no answer, the votes tied"


def test_ephemeral_texts() -> None:
    assert "&lt;!channel&gt;" in not_a_reviewer_text("<!channel>")
    assert "<!channel>" not in not_a_reviewer_text("<!channel>")
    text = already_answered_text((vote("U1", "fraud"), vote("bad<id>", "a&b")))
    assert text.startswith("Already answered by <@U1> (fraud), bad&lt;id&gt; (a&amp;b)")
    assert already_answered_text(()).startswith("Already answered.")
    assert "undo" in undo_expired_text().lower()
    assert "undo" in undo_not_yours_text().lower()
