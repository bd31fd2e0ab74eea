"""JSON shapes of stored items: `GET /v1/.../items/{id}`, the labels export, `hitl export`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from storage.items import resolved_items, reviews_of
from storage.reviews import active_votes_of
from storage.tables import Item, Review


def _review(r: Review) -> dict[str, Any]:
    return {
        "user": r.user_id,
        "action": r.action,
        "label": r.label,
        "note": r.note,
        "undoes": r.undoes_id,
        "at": r.created_at.isoformat(),
    }


def item_view(session: Session, item: Item) -> dict[str, Any]:
    p = item.prediction
    message = item.message
    return {
        "id": item.external_id,
        "queue": item.queue,
        **item.payload,
        "context": item.context,
        "created_at": item.created_at.isoformat(),
        "prediction": None
        if p is None
        else {
            "label": p.label,
            "confidence": p.confidence,
            "route": p.route,
            "audit_probability": p.audit_probability,
            "model_version": p.model_version.version,
        },
        "explanation": [] if p is None else list(p.explanation or []),
        "warnings": [] if p is None else list(p.warnings or []),
        "message": None
        if message is None
        else {"state": message.state, "channel": message.channel, "ts": message.ts},
        "resolved_label": item.resolved_label,
        "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
        "reviews": [_review(r) for r in reviews_of(session=session, item_pks=[item.id])[item.id]],
    }


def label_rows(sessions: sessionmaker[Session], *, queue: str) -> Iterator[dict[str, Any]]:
    """One object per resolved item, page by page so an export never holds a whole queue."""
    after = 0
    while True:
        with sessions.begin() as session:
            page = resolved_items(session=session, queue=queue, after_pk=after)
            votes_of = active_votes_of(session=session, item_pks=[item.id for item in page])
            rows = []
            for item in page:
                votes = votes_of[item.id]
                p = item.prediction
                rows.append(
                    {
                        "id": item.external_id,
                        "label": item.resolved_label,
                        "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
                        "votes": [
                            {"user": v.user_id, "label": v.label, "at": v.at.isoformat()}
                            for v in votes
                        ],
                        "predicted": p.label if p else None,
                        "model_version": p.model_version.version if p else None,
                    }
                )
        yield from rows
        if not page:
            return
        after = page[-1].id
