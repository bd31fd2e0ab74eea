"""A model that cannot be loaded (its bytes no longer match their recorded sha256): ingestion
answers 503 naming the queue and why, `/healthz` says the same, and the log gets one line."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from storage.tables import Item, ModelVersion
from tests.bot.slack.live_app import live_app
from tests.factories import items_for


def test_a_model_that_cannot_be_loaded_is_503_on_ingest_and_healthz_with_one_log_line(
    database_url, caplog
):
    with live_app(database_url, queues={"fraud": {}}) as app:
        assert app.http.get("/healthz").status_code == 200
        with app.ctx.sessions.begin() as session:
            recorded = session.scalar(select(ModelVersion.sha256))
            # What tampered bytes look like to the loader: they do not hash to what was recorded.
            session.execute(update(ModelVersion).values(sha256="0" * 64))

        caplog.set_level(logging.INFO)
        for n in range(3):
            response = app.post_items("fraud", items_for(2, prefix=f"b{n}"))
            assert response.status_code == 503
            detail = response.json()["detail"]
            assert "'fraud'" in detail and "fraud-v1" in detail and "cannot be loaded" in detail
            assert "sha256" in detail
        health = app.http.get("/healthz")
        assert health.status_code == 503
        assert (
            "queue fraud" in health.text
            and "fraud-v1 of queue 'fraud' cannot be loaded" in health.text
        )

        with app.ctx.sessions.begin() as session:
            assert session.scalar(select(func.count()).select_from(Item)) == 0
        errors = [
            r
            for r in caplog.records
            if r.levelno >= logging.ERROR and r.name.startswith(("bot.api", "uvicorn", "fastapi"))
        ]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert errors[0].exc_info is None  # a line, not a traceback
        assert "fraud" in errors[0].getMessage()

        with app.ctx.sessions.begin() as session:  # the operator restores the model
            session.execute(update(ModelVersion).values(sha256=recorded))
        assert app.http.get("/healthz").status_code == 200
        assert app.post_items("fraud", items_for(1)).status_code == 200
