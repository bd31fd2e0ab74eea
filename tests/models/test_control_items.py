"""Control items: how many, which rows (alike the audits), look-alike ids, and fairness."""

from __future__ import annotations

import re

import numpy as np
import pytest

from models.control_items import (
    Candidate,
    Mirror,
    behind_on_control,
    choose_rows,
    control_count,
    lookalike_id,
)


def test_control_items_are_the_configured_share_of_messages() -> None:
    rng = np.random.default_rng(0)
    added = sum(control_count(10, 0.05, rng) for _ in range(4000))
    share = added / (added + 40_000)
    assert share == pytest.approx(0.05, abs=0.003)
    assert control_count(0, 0.5, rng) == 0 and control_count(10, 0.0, rng) == 0
    with pytest.raises(ValueError):
        control_count(10, 1.0, rng)


def test_rows_mirror_recent_confident_predictions() -> None:
    """Alike the audits: the label the model gives them and how sure it is; never a row the
    model is unsure of (that is a review card, not an audit card), never one twice."""
    candidates = [
        Candidate(0, "legit", 0.99),
        Candidate(1, "legit", 0.91),
        Candidate(2, "fraud", 0.97),
        Candidate(3, "fraud", 0.55),  # unsure: never a control item
        Candidate(4, "legit", 0.985),
    ]
    rng = np.random.default_rng(1)
    assert choose_rows(candidates, [Mirror("fraud", 0.96)], 1, review_below=0.9, rng=rng) == [2]
    assert choose_rows(candidates, [Mirror("legit", 0.92)], 1, review_below=0.9, rng=rng) == [1]
    picked = choose_rows(candidates, [Mirror("legit", 0.99)], 10, review_below=0.9, rng=rng)
    assert sorted(picked) == [0, 1, 2, 4] and picked[:2] == [0, 4]
    assert choose_rows(candidates, [], 3, review_below=0.9, rng=rng) == []


def test_the_confidence_mix_of_control_items_follows_the_audits() -> None:
    rng = np.random.default_rng(2)
    confidences = rng.uniform(0.8, 1.0, size=2000)
    candidates = [Candidate(i, "legit", float(c)) for i, c in enumerate(confidences)]
    audits = [Mirror("legit", float(c)) for c in rng.beta(20, 1, size=300) * 0.2 + 0.8]
    picked = choose_rows(candidates, audits, 200, review_below=0.8, rng=rng)
    chosen = confidences[picked]
    mirrored = np.asarray([m.confidence for m in audits])
    assert abs(np.median(chosen) - np.median(mirrored)) < 0.01
    assert abs(np.median(confidences) - np.median(mirrored)) > 0.05  # unlike the pool's


def test_lookalike_ids_keep_the_shape_of_recent_ones() -> None:
    rng = np.random.default_rng(3)
    recent = ["tx-004512", "tx-004513", "tx-004517"]
    made = {lookalike_id(recent, rng, set()) for _ in range(50)}
    assert all(re.fullmatch(r"tx-\d{6}", i) for i in made)
    assert not any(i.startswith("gold") or i.startswith("control") for i in made)
    taken = {"42"}
    assert lookalike_id(["17"], np.random.default_rng(0), taken) not in taken
    assert re.fullmatch(r"\d{6}", lookalike_id([], rng, set()))
    assert lookalike_id(["abc"], rng, set()).startswith("abc-")


def test_a_reviewer_behind_their_fair_share_of_control_items_is_topped_up() -> None:
    """In a channel a control card goes to whoever answers it, like any card, so control
    answers follow each reviewer's share of all answers; a quiet reviewer who fell behind by
    one or more is shown an open control card first by `/hitl next`."""
    assert behind_on_control("quiet", {"quiet": 100}, {"quiet": 3}, 0.05)
    assert behind_on_control("quiet", {"quiet": 100}, {"quiet": 4}, 0.05)
    assert not behind_on_control("quiet", {"quiet": 100}, {"quiet": 5}, 0.05)
    assert not behind_on_control("new", {}, {}, 0.05)
    assert not behind_on_control("quiet", {"quiet": 100}, {}, 0.0)
