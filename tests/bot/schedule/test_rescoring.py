"""Re-scoring waiting items after a promotion: the new model's prediction, explanation and
warnings, and an item whose inputs the model cannot vouch for stays with people."""

from __future__ import annotations

import copy

from sqlalchemy import select

from bot.review.ingest import ingest, parse_batch
from bot.runtime import build_context
from bot.schedule.jobs import rescore_waiting
from bot.settings import Settings
from models.pipelines import score_explained
from models.registry import load_current
from models.training import train_initial
from storage.tables import Item
from tests.factories import cancer_rows, items_for, make_config, seed_model


def test_waiting_items_get_the_new_models_explanation(database_url) -> None:
    ctx = build_context(
        Settings(database_url=database_url),
        config=make_config(fraud={"review_below": 1.0, "audit_rate": 0.0}),
        seed=0,
    )
    seed_model(ctx.sessions, "fraud")
    queue = ctx.config.queue("fraud")
    partial = copy.deepcopy(items_for(1, prefix="p")[0])
    del partial["features"]["mean_texture"]
    ingest(ctx, queue=queue, items=parse_batch({"items": [*items_for(3), partial]}, queue=queue))
    payloads, y = cancer_rows()
    with ctx.sessions.begin() as session:  # a second model, on other rows, made current
        train_initial(
            session=session,
            queue="fraud",
            kind="tabular",
            labels=("legit", "fraud"),
            payloads=payloads[150:450],
            y=y[150:450],
        )
    ctx.config = make_config(fraud={"review_below": 0.5, "audit_rate": 0.0})
    queue = ctx.config.queue("fraud")
    assert rescore_waiting(ctx, queue) == 4
    with ctx.sessions.begin() as session:
        version, pipeline = load_current(session=session, queue="fraud")
        items = {i.external_id: i for i in session.scalars(select(Item))}
        for item_id in ("t-0", "t-1", "t-2"):
            p = items[item_id].prediction
            assert p is not None and p.model_version_id == version.id
            [expected] = score_explained(pipeline, "tabular", [items[item_id].payload])
            assert p.explanation == expected.contributions and p.warnings is None
        forced = items["p-0"].prediction
        assert forced is not None and forced.route == "review" and forced.confidence > 0.5
        assert [w["fields"] for w in forced.warnings or []] == [["mean_texture"]]
