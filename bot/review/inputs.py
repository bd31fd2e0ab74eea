"""Inputs the model can vouch for: an item's inputs against the model's feature schema, and the
queue's config names against what items carry.

The schema is what ``hitl train`` (and every retrain) stored with the model version
(``info["feature_schema"]``, see ``models.kinds``). An item lacking inputs the model was
trained on, carrying unknown ones, or a category never seen in training, gets warnings; what
follows is the queue's ``missing_features``: ``review`` (to people whatever the confidence,
the card naming the inputs), ``reject`` (422 naming the item and the inputs; nothing of the
batch is stored) or ``ignore`` (scored as it is, no warning).

Warnings are ``{"code", "fields", "message"}``: the code to count them by
(``missing_features``, ``unknown_features``, ``unseen_categories``, ``unknown_config_name``),
the names a person has to look at, and a sentence saying it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from bot.config import QueueConfig
from models.kinds import InputProblems

#: Names listed in a warning's message; the others are counted ("and 26 more").
_LISTED = 10
#: Inputs of a text queue every item has, whatever the schema says.
_TEXT_NAMES = frozenset({"text", "customer_message"})

Warning = dict[str, Any]


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def item_warnings(problems: InputProblems) -> list[Warning]:
    """The warnings of one item, one per kind of problem."""
    warnings: list[Warning] = []
    if problems.missing:
        names = list(problems.missing)
        warnings.append(
            {
                "code": "missing_features",
                "fields": names,
                "message": f"lacks {len(names)} input(s) the model was trained on: {_names(names)}",
            }
        )
    if problems.unknown:
        names = list(problems.unknown)
        warnings.append(
            {
                "code": "unknown_features",
                "fields": names,
                "message": f"carries {len(names)} input(s) the model does not know: "
                f"{_names(names)}",
            }
        )
    if problems.unseen_categories:
        pairs = [f"{name} = {value}" for name, value in problems.unseen_categories]
        warnings.append(
            {
                "code": "unseen_categories",
                "fields": [name for name, _ in problems.unseen_categories],
                "message": f"has values never seen in training: {_names(pairs)}",
            }
        )
    return warnings


def reject_errors(
    item_ids: Sequence[str], warnings: Sequence[list[Warning]], index_of: Mapping[str, int]
) -> list[dict[str, Any]]:
    """FastAPI-shaped errors for ``missing_features = "reject"``: one per item with warnings,
    located at its index in the request and naming the item and its inputs."""
    return [
        {
            "loc": ["body", "items", index_of[item_id], "features"],
            "msg": f"item {item_id!r} " + "; ".join(w["message"] for w in found),
            "type": "missing_features",
        }
        for item_id, found in zip(item_ids, warnings, strict=True)
        if found
    ]


def config_names(queue: QueueConfig) -> dict[str, list[str]]:
    """The config keys that name inputs, and the names they hold."""
    named = {
        "priority_field": [queue.priority_field] if queue.priority_field else [],
        "fields": list(queue.fields),
        "segments": list(queue.segments),
        "mask_fields": list(queue.mask_fields),
        "hide_fields": list(queue.hide_fields),
        "format": list(queue.format),
    }
    return {key: names for key, names in named.items() if names}


def config_warnings(
    queue: QueueConfig, schema: Mapping[str, Any] | None, context_seen: Collection[str]
) -> list[Warning]:
    """A name in the queue's config that is neither an input of the model nor ever seen in an
    item's context matches nothing: most likely a typo, which would otherwise do nothing
    without a word. One warning per key, naming the names."""
    if schema is None:  # a model trained before schemas were stored: nothing to compare with
        return []
    known = set((schema.get("features") or {}).keys()) | set(context_seen)
    if queue.kind == "text":
        known |= _TEXT_NAMES
    warnings = []
    for key, names in config_names(queue).items():
        unmatched = [name for name in names if name not in known]
        if unmatched:
            warnings.append(
                {
                    "code": "unknown_config_name",
                    "fields": unmatched,
                    "message": f"{queue.name}: {key} names {_names(unmatched)}, neither an input"
                    " of the model nor seen in any item's context",
                }
            )
    return warnings
