"""Hypothesis strategies for hostile requests to `hitl serve`: the /v1 API and Slack's endpoint.

Most requests are near misses of valid ones (a real item with one field gone wrong, a Slack
payload of the right type with a field of the wrong shape, signed correctly), so they get past
the first checks; the rest are noise (random JSON, random bytes, deep nesting, bad headers).
Used by the property test (tests/bot/api/test_fuzz.py) and by benchmarks/chaos.py.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.slack_standin.clicks import block_actions_payload, event_callback, sign
from bot.slack_standin.clicks import slash_command_payload as command_fields
from storage.tables import Item, Prediction, Review, ReviewMessage
from tests.factories import items_for


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def posts_items(self) -> bool:
        return self.method == "POST" and self.path.endswith("/items")


FEATURES = list(items_for(1)[0]["features"])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1.7e308, 1e100, 5e-324]),
    st.text(max_size=40),
    st.sampled_from(["\x00", "a\x00b", "<!channel>", "&lt;", "\u202e", "\ud7ff"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
ids = st.one_of(
    st.text(max_size=20),
    st.text(min_size=250, max_size=300),
    st.sampled_from(["t-1", "t-2", "a\x00b", "", " ", "order/2024/7", "%00"]),
    st.integers(),
    st.none(),
)
deep = st.integers(min_value=500, max_value=100_000).map(lambda n: "[" * n + "]" * n)


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    """A real item, then some of its fields replaced or added."""
    item: dict[str, Any] = dict(items_for(1, start=300 + draw(st.integers(0, 200)))[0])
    item["id"] = draw(st.sampled_from(["t-1", "t-2", "t-3"]) | ids)
    features = dict(item["features"])
    for name in draw(st.lists(st.sampled_from(FEATURES) | st.text(max_size=10), max_size=4)):
        features[name] = draw(scalars | json_values)
    if draw(st.booleans()):
        features = draw(st.sampled_from([{}, {"zzz": 1}, dict.fromkeys(FEATURES)]) | json_values)
    item["features"] = features
    if draw(st.booleans()):
        item["context"] = draw(
            st.dictionaries(st.text(max_size=8), scalars, max_size=3) | json_values
        )
    if draw(st.integers(0, 5)) == 0:
        item[draw(st.sampled_from(["text", "extra", "id"]))] = draw(json_values)
    if draw(st.integers(0, 5)) == 0:
        del item[draw(st.sampled_from(["id", "features"]))]
    return item


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@st.composite
def v1_request(draw: st.DrawFn, *, api_token: str) -> FuzzRequest:
    queue = draw(st.sampled_from(["fraud"] * 6 + ["nope", "fr%00aud"]))
    headers = {"Content-Type": "application/json"}
    if draw(st.integers(0, 9)):
        headers["Authorization"] = f"Bearer {api_token}"
    kind = draw(st.sampled_from(["items"] * 4 + ["outcomes", "get", "labels", "stats"]))
    if kind == "get":
        item_id = draw(st.text(max_size=30) | st.sampled_from(["t-1", "a%00b", "%ff", "x" * 300]))
        return FuzzRequest(
            "GET", f"/v1/queues/{queue}/items/{quote(item_id, safe='%/')}", headers, b""
        )
    if kind in ("labels", "stats"):
        return FuzzRequest("GET", f"/v1/queues/{queue}/{kind}", headers, b"")
    if kind == "outcomes":
        outcome = st.fixed_dictionaries(
            {"id": ids, "label": st.sampled_from(["fraud", "legit"]) | scalars},
            optional={"source": scalars, "observed_at": scalars, "x": scalars},
        )
        data = draw(
            st.builds(lambda o: {"outcomes": o}, st.lists(outcome, max_size=3)) | json_values
        )
        return FuzzRequest("POST", f"/v1/queues/{queue}/outcomes", headers, _dumps(data))
    body = draw(
        st.one_of(
            st.lists(items(), min_size=1, max_size=4).map(lambda it: _dumps({"items": it})),
            st.lists(items(), min_size=1, max_size=2).map(lambda it: _dumps({"items": it, "x": 1})),
            json_values.map(_dumps),
            deep.map(str.encode),
            st.binary(max_size=100),
        )
    )
    return FuzzRequest("POST", f"/v1/queues/{queue}/items", headers, body)


def _signed(body: str, content_type: str, secret: str) -> dict[str, str]:
    return {**sign(body, signing_secret=secret), "Content-Type": content_type}


@st.composite
def slack_request(draw: st.DrawFn, *, signing_secret: str) -> FuzzRequest:
    form = "application/x-www-form-urlencoded"
    shape = draw(st.sampled_from(["click", "click", "command", "event", "noise", "unsigned"]))
    if shape == "click":
        action_id = draw(
            st.sampled_from(["hitl_vote:confirm", "hitl_vote:reject", "hitl_undo", "hitl_note"])
        )
        value = draw(st.text(max_size=12) | st.sampled_from(["1:0", "1:1", "2:0", "99999:1", "1"]))
        payload: Any = block_actions_payload(
            user_id=draw(st.sampled_from(["U0ALICE", "U0MALLORY"])),
            channel="C0REVIEW",
            message={"ts": draw(st.sampled_from(["1.000001", "x"])), "blocks": []},
            action={"action_id": action_id, "value": value},
        )
        for key in draw(st.lists(st.sampled_from(list(payload)), max_size=3)):
            if draw(st.booleans()):
                payload[key] = draw(json_values)
            else:
                payload.pop(key, None)
        if draw(st.integers(0, 4)) == 0:
            payload = draw(json_values)
        text = "payload=" + quote(json.dumps(payload, allow_nan=True))
        if draw(st.integers(0, 6)) == 0:
            text = "payload=" + quote(draw(st.text(max_size=30) | deep))
        return FuzzRequest(
            "POST", "/slack/events", _signed(text, form, signing_secret), text.encode()
        )
    if shape == "command":
        fields: dict[str, Any] = command_fields(
            command="/hitl",
            text=draw(
                st.sampled_from(["stats", "next", "retrain fraud", "help", ""])
                | st.text(max_size=20)
            ),
            user_id=draw(st.sampled_from(["U0ALICE", "U0MALLORY"])),
            channel_id="C0ELSEWHERE",
            response_url="http://127.0.0.1:9/response_url/x",
        )
        for key in draw(st.lists(st.sampled_from(list(fields)), max_size=2)):
            fields[key] = draw(st.text(max_size=20))
        text = urlencode(fields)
        return FuzzRequest(
            "POST", "/slack/events", _signed(text, form, signing_secret), text.encode()
        )
    if shape == "event":
        event: Any = {
            "type": draw(st.sampled_from(["app_home_opened", "message"]) | st.text(max_size=10))
        }
        event["user"] = draw(st.sampled_from(["U0ALICE"]) | json_values)
        envelope: Any = event_callback(event)
        for key in draw(st.lists(st.sampled_from(list(envelope)), max_size=2)):
            envelope[key] = draw(json_values)
        text = json.dumps(envelope, allow_nan=True)
        content_type = draw(st.sampled_from(["application/json", form, "text/plain"]))
        return FuzzRequest(
            "POST", "/slack/events", _signed(text, content_type, signing_secret), text.encode()
        )
    if shape == "noise":
        body = draw(st.binary(max_size=200) | deep.map(str.encode) | json_values.map(_dumps))
        text = body.decode("utf-8", "replace")
        headers = _signed(text, draw(st.sampled_from(["application/json", form])), signing_secret)
        return FuzzRequest("POST", "/slack/events", headers, text.encode())
    printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
    headers = {"Content-Type": form}
    if draw(st.booleans()):
        headers["X-Slack-Request-Timestamp"] = draw(
            printable | st.sampled_from(["1e9", "-1", "99999999999999999999"])
        )
    if draw(st.booleans()):
        headers["X-Slack-Signature"] = draw(printable)
    body = draw(
        st.sampled_from([b"payload=xxx", b"payload=" + b"x" * 5000]) | st.binary(max_size=100)
    )
    return FuzzRequest("POST", "/slack/events", headers, body)


def requests(*, api_token: str, signing_secret: str) -> st.SearchStrategy[FuzzRequest]:
    return st.one_of(v1_request(api_token=api_token), slack_request(signing_secret=signing_secret))


@dataclass(frozen=True)
class Verdict:
    status: int
    survived: bool  # the keep-alive connection carried the next request
    partial: bool  # a write that was neither all nor nothing


class Prober:
    """Sends fuzzed requests over one keep-alive connection and judges each: its status, whether
    the connection still carries a request, and whether a rejected batch stored anything (or an
    accepted one stored only part)."""

    def __init__(self, host: str, port: int, sessions: sessionmaker[Session]) -> None:
        self.host, self.port, self.sessions = host, port, sessions
        self.connection = http.client.HTTPConnection(host, port, timeout=60)

    def close(self) -> None:
        self.connection.close()

    def send(self, request: FuzzRequest) -> Verdict:
        before = self._count() if request.posts_items else None
        self.connection.request(
            request.method, request.path, body=request.body or None, headers=request.headers
        )
        response = self.connection.getresponse()
        answer = response.read()
        survived = not response.will_close and self._still_open()
        if not survived:
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        partial = False
        if before is not None:
            after = self._count()
            if response.status != 200:
                partial = after != before
            else:
                answered = {a["id"] for a in json.loads(answer)["items"]}
                partial = self._count(answered) != len(answered) or after - before > len(answered)
        return Verdict(response.status, survived, partial)

    def _still_open(self) -> bool:
        """The next request on the same connection is answered (a cheap one: no database)."""
        self.connection.request("GET", "/v1/still-open")
        response = self.connection.getresponse()
        response.read()
        return response.status in (401, 404) and not response.will_close

    def _count(self, ids: set[str] | None = None) -> int:
        query = select(func.count()).select_from(Item).where(Item.queue == "fraud")
        if ids is not None:
            query = query.where(Item.external_id.in_(list(ids)))
        with self.sessions.begin() as session:
            return int(session.scalar(query) or 0)


def stored_consistently(sessions: sessionmaker[Session]) -> list[str]:
    """What is wrong with the stored rows as a whole (empty when nothing): every item has its
    prediction, every item routed to people its outbox row, and no fuzzed click counted."""
    with sessions.begin() as session:
        items = session.scalar(select(func.count()).select_from(Item)) or 0
        predictions = session.scalar(select(func.count()).select_from(Prediction)) or 0
        routed = (
            session.scalar(
                select(func.count()).select_from(Prediction).where(Prediction.route != "auto")
            )
            or 0
        )
        messages = session.scalar(select(func.count()).select_from(ReviewMessage)) or 0
        reviews = session.scalar(select(func.count()).select_from(Review)) or 0
    problems = []
    if items != predictions:
        problems.append(f"{items} items but {predictions} predictions")
    if routed != messages:
        problems.append(f"{routed} items routed to people but {messages} outbox rows")
    if reviews:
        problems.append(f"{reviews} reviews stored from fuzzed clicks")
    return problems
