"""What the queue's config says about showing an item, and the order its fields go in.

``CardView`` carries the config keys of "The card" (``fields``, ``hide_fields``, ``format``,
``link``, ``mask_fields``, ``mask_patterns``) into the pure block builders. ``field_order``
decides, once, which fields the card shows and which it folds behind "Show all fields": the
queue's ``fields`` in their order, then the features that explain the prediction, then the rest,
ten in all; hidden fields are never anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.masking import Masking

#: Fields a card shows before folding the rest (more when the queue lists more in ``fields``).
SHOWN_FIELDS = 10
#: Inputs a text card shows as quotes rather than as fields.
TEXT_INPUT, CUSTOMER_MESSAGE = "text", "customer_message"

Source = Literal["feature", "context"]


@dataclass(frozen=True)
class CardView:
    fields: tuple[str, ...] = ()
    hide: frozenset[str] = frozenset()
    formats: Mapping[str, str] = field(default_factory=dict)
    link: str = ""
    masking: Masking = field(default_factory=Masking)

    def format_of(self, name: str) -> str | None:
        return self.formats.get(name)


@dataclass(frozen=True)
class WhyItem:
    """One contribution to the prediction, as stored with it (``models.kinds.Contribution``)."""

    feature: str
    value: str | float | int | bool | None
    contribution: float


@dataclass(frozen=True)
class InputWarning:
    """Something odd about the item's inputs: ``code`` and the input names it concerns."""

    code: str  # missing_features | unknown_features | unseen_categories
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Field:
    name: str
    value: object
    source: Source


@dataclass(frozen=True)
class FieldOrder:
    shown: tuple[Field, ...]  # features (and context named in ``fields``), in card order
    context: tuple[Field, ...]  # the rest of the context, shown in its own section
    folded: tuple[Field, ...]  # behind "Show all fields"

    @property
    def everything(self) -> tuple[Field, ...]:
        return self.shown + self.context + self.folded


def visible_why(why: tuple[WhyItem, ...], view: CardView, limit: int = 5) -> tuple[WhyItem, ...]:
    """The strongest contributions a card may show: hidden fields left out, so the next
    strongest takes their place."""
    return tuple(item for item in why if item.feature not in view.hide)[:limit]


def field_order(
    features: Mapping[str, object],
    context: Mapping[str, object],
    why: tuple[WhyItem, ...],
    view: CardView,
    *,
    shown_fields: int = SHOWN_FIELDS,
    shown_context: int = SHOWN_FIELDS,
) -> FieldOrder:
    """Which fields a card shows, in which order, and which it folds (see the module doc)."""
    taken: set[tuple[Source, str]] = set()
    first: list[Field] = []

    def take(name: str, source: Source, values: Mapping[str, object]) -> None:
        if name in values and name not in view.hide and (source, name) not in taken:
            taken.add((source, name))
            first.append(Field(name, values[name], source))

    for name in view.fields:
        if name in features:
            take(name, "feature", features)
        else:
            take(name, "context", context)
    for item in why:
        take(item.feature, "feature", features)
    for name in features:
        take(name, "feature", features)
    limit = max(shown_fields, sum(1 for f in first if f.name in view.fields))
    rest_context = [
        Field(name, value, "context")
        for name, value in context.items()
        if name not in view.hide and ("context", name) not in taken
    ]
    return FieldOrder(
        shown=tuple(first[:limit]),
        context=tuple(rest_context[:shown_context]),
        folded=tuple(first[limit:]) + tuple(rest_context[shown_context:]),
    )
