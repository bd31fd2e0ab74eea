"""Segments: figures per value read from a real database (SQLite and PostgreSQL), the ten
largest then "other", a segment worse beyond the noise flagged, and the digest's one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.digest.figures import digest_figures
from bot.digest.plain_text import digest_plain_text
from bot.digest.segments import OTHER, segment_figures
from bot.digest.stats import queue_stats
from bot.masking import Masking
from storage.segment_data import SegmentRow, segment_rows
from storage.tables import Item, Prediction
from tests.factories import make_config, placeholder_version

NOW = datetime.now(UTC)
QUEUE = make_config(fraud={"segments": ["purpose", "region"]}).queue("fraud")


def add(
    session: Session,
    version_id: int,
    n: int,
    *,
    purpose: str | None,
    region: str,
    wrong: int,
    route: str = "audit",
) -> None:
    """``n`` resolved items of ``purpose``, ``wrong`` of which the model got wrong."""
    for i in range(n):
        features: dict[str, object] = {"amount": 10.0}
        if purpose is not None:
            features["purpose"] = purpose
        item = Item(
            queue="fraud",
            external_id=f"{purpose}-{region}-{route}-{i}",
            payload={"features": features},
            context={"region": region},
            created_at=NOW - timedelta(days=3),
            resolved_label="fraud" if i < wrong else "legit",
            resolved_at=NOW - timedelta(days=2),
        )
        item.prediction = Prediction(
            model_version_id=version_id,
            label="legit",
            confidence=0.95,
            route=route,
            audit_probability=0.1 if route == "audit" else 1.0,
        )
        session.add(item)


def fill(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        version = placeholder_version(session)
        add(session, version, 40, purpose="small_business", region="north", wrong=12)
        add(session, version, 120, purpose="car", region="north", wrong=2)
        add(session, version, 110, purpose="rent", region="south", wrong=1)
        add(session, version, 20, purpose="rent", region="south", wrong=10, route="review")
        add(session, version, 5, purpose=None, region="south", wrong=0)


def test_rows_carry_features_and_context_values(sessions) -> None:
    fill(sessions)
    with sessions.begin() as session:
        rows = segment_rows(session=session, queue="fraud", names=["purpose", "region"])
        assert len(rows) == 295
        assert {r.values["region"] for r in rows} == {"north", "south"}
        assert sum(r.values["purpose"] is None for r in rows) == 5
        later = segment_rows(session=session, queue="fraud", names=["purpose"], since=NOW)
        assert later == []


def test_a_segment_worse_beyond_the_noise_is_flagged_and_said_in_one_line(sessions) -> None:
    fill(sessions)
    with sessions.begin() as session:
        figures = digest_figures(session=session, queue=QUEUE, now=NOW)
        stats = queue_stats(session=session, queue=QUEUE, weekly=False)
    purposes = {f.value: f for f in figures.segments["purpose"]}
    assert list(purposes) == ["rent", "car", "small_business", "(none)"]  # largest first
    small = purposes["small_business"]
    assert small.flagged and small.accuracy.n == 40 and small.accuracy.value == 0.7
    assert not purposes["car"].flagged and not purposes["rent"].flagged
    assert purposes["rent"].corrected.value == 11 / 130  # review answers count here too
    assert purposes["rent"].accuracy.n == 110  # audits only
    text = digest_plain_text(figures)
    assert "Segments, last 12 weeks" in text
    flagged = [" ".join(line.split()) for line in text.splitlines() if "⚠️" in line]
    assert flagged == [
        "⚠️ purpose = small_business: 70% (55–82%) vs 99% elsewhere",
        "⚠️ region = north: 91% (86–95%) vs 99% elsewhere",  # where small businesses are
    ]
    api = stats["segments"]["purpose"]["small_business"]
    assert api["flagged"] is True and api["n"] == 40 and api["items"] == 40
    assert set(api) >= {"value", "low", "high", "n", "flagged", "corrected"}
    assert stats["segments"]["region"]["south"]["flagged"] is False


def test_ten_largest_values_then_other_and_values_masked_for_slack() -> None:
    rows = [
        SegmentRow(i, "audit", "legit", "legit", 0.5, {"merchant": f"m{i % 13}"})
        for i in range(130 + 2)
    ]
    rows.append(SegmentRow(999, "audit", "legit", "legit", 0.5, {"merchant": "jo@example.com"}))
    figures = segment_figures(rows, ["merchant"], masking=Masking())["merchant"]
    assert len(figures) == 11 and figures[-1].value == OTHER
    assert sum(f.items for f in figures) == len(rows)
    assert figures[-1].items == len(rows) - sum(f.items for f in figures[:10])
    masked = segment_figures(rows[-1:], ["merchant"], masking=Masking())["merchant"][0]
    assert masked.value == "jo@example.com" and masked.label == "••••@example.com"
