"""``HitlClient``: batches of at most 1,000 items (and under the 5 MB body limit), retries
with backoff and jitter where a retry is safe, typed answers.

Retrying a POST is safe here because the API is idempotent on ``id`` within a queue: an item
stored by a request whose answer was lost is answered as stored, not scored twice. So 429
(waiting the ``Retry-After`` it was given), 5xx, timeouts and dropped connections are retried;
any other 4xx is the caller's to fix and raises ``HitlApiError`` at once, naming what the API
said.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx

MAX_BATCH = 1000  # items (and outcomes) per call, the API's limit
MAX_BODY_BYTES = 5 * 1024 * 1024
#: Room under the body limit for the envelope and for a server that counts a little differently.
BODY_BUDGET = MAX_BODY_BYTES - 64 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

Route = Literal["review", "audit", "auto"]


@dataclass(frozen=True)
class Scored:
    """The API's answer for one item: the model's label, its probability, where it went."""

    id: str
    label: str
    confidence: float
    route: Route
    model_version: str


class HitlApiError(Exception):
    """An answer the client will not retry (a 4xx other than 429, or retries exhausted)."""

    def __init__(self, status: int, detail: Any, *, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {status} {_first_message(detail)}")
        self.status = status
        self.detail = detail


def _first_message(detail: Any) -> str:
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        where = ".".join(str(part) for part in first.get("loc", []))
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(detail)


class HitlClient:
    """``HitlClient(url, token)``: ``submit``, ``report_outcomes``, ``stats``.

    ``max_retries`` retries per call after the first try; the wait before retry ``n`` is a
    random time up to ``backoff * 2**n`` seconds, at most ``max_backoff`` ("full jitter": many
    producers retrying at once do not hit the server in step), or the ``Retry-After`` of a 429.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng or random.Random()

    # ------------------------------------------------------------------ the API

    def submit(self, queue: str, items: Iterable[Mapping[str, Any]]) -> list[Scored]:
        """Score ``items`` (``{"id", "features" | "text", "context"?}``), one answer per item
        in their order. Sent in batches of at most 1,000 items and under 5 MB; a batch is all or
        nothing on the server, and submitting the same ids again is harmless."""
        path = f"/v1/queues/{quote(queue, safe='')}/items"
        answers: list[Scored] = []
        for batch in _batches(items, key="items"):
            body = self._request("POST", path, content=batch)
            answers.extend(Scored(**answer) for answer in body["items"])
        return answers

    def report_outcomes(self, queue: str, outcomes: Iterable[Mapping[str, Any]]) -> int:
        """Late ground truth (``{"id", "label", "source"?, "observed_at"?}``) for items already
        submitted; the number stored. Reporting an outcome again replaces it."""
        path = f"/v1/queues/{quote(queue, safe='')}/outcomes"
        stored = 0
        for batch in _batches(outcomes, key="outcomes"):
            stored += int(self._request("POST", path, content=batch)["stored"])
        return stored

    def stats(self, queue: str) -> dict[str, Any]:
        """The queue's figures, as ``GET /v1/queues/{queue}/stats`` gives them."""
        result: dict[str, Any] = self._request("GET", f"/v1/queues/{quote(queue, safe='')}/stats")
        return result

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, *, content: bytes | None = None) -> Any:
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            try:
                response = self._http.request(method, path, content=content)
            except (httpx.TimeoutException, httpx.NetworkError):
                if last_try:
                    raise
                self._sleep(self._wait(attempt))
                continue
            if response.status_code < 400:
                return response.json()
            if response.status_code not in RETRY_STATUSES or last_try:
                raise HitlApiError(
                    response.status_code, _detail(response), method=method, path=path
                )
            self._sleep(self._wait(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable: the last try returns or raises")

    def _wait(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_backoff)
            except ValueError:
                pass  # an HTTP date: fall back to backoff
        return self._rng.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HitlClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        return response.text


def _batches(rows: Iterable[Mapping[str, Any]], *, key: str) -> Iterator[bytes]:
    """JSON bodies ``{key: [...]}`` of at most MAX_BATCH rows and BODY_BUDGET bytes."""
    encoded: list[bytes] = []
    size = 0
    for index, row in enumerate(rows):
        one = json.dumps(row, separators=(",", ":"), allow_nan=False).encode()
        if len(one) > BODY_BUDGET:
            raise ValueError(f"{key}[{index}] alone is {len(one)} bytes, over the 5 MB limit")
        if encoded and (len(encoded) == MAX_BATCH or size + len(one) + 1 > BODY_BUDGET):
            yield _body(key, encoded)
            encoded, size = [], 0
        encoded.append(one)
        size += len(one) + 1
    if encoded:
        yield _body(key, encoded)


def _body(key: str, encoded: Sequence[bytes]) -> bytes:
    return b'{"' + key.encode() + b'":[' + b",".join(encoded) + b"]}"
