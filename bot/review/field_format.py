"""A field's value as a reviewer reads it, by the queue's ``format`` for that field.

``currency:EUR`` → ``€1,504.93``, ``percent`` (a share: 0.125) → ``12.5%``, ``integer`` →
``12,346``, ``datetime`` (Unix seconds or ISO 8601) → a Slack date token each reader sees in
their own time zone, ``duration`` (seconds) → ``4 min``. A value the format does not fit (text
where a number was expected) is shown as it is, never dropped. Plain text out, not escaped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.figures_text import human_duration

#: Symbols of the currencies a reader recognises at once; any other code is written after.
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}
#: Minor units of currencies that have other than two (ISO 4217).
_DECIMALS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "TND": 3}


@dataclass(frozen=True)
class Shown:
    """``text``, or a moment (``at``, Unix seconds) that Slack writes in the reader's zone, with
    ``text`` as its fallback."""

    text: str
    at: int | None = None


def display(value: object) -> str:
    """A value with no format: as the producer sent it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def formatted(value: object, spec: str | None) -> Shown:
    if spec is None or value is None or isinstance(value, bool):
        return Shown(display(value))
    if spec == "datetime":
        return _moment(value)
    number = _number(value)
    if number is None:
        return Shown(display(value))
    if spec.startswith("currency:"):
        return Shown(_money(number, spec.removeprefix("currency:")))
    if spec == "percent":
        return Shown(f"{number * 100:,.1f}".removesuffix(".0") + "%")
    if spec == "integer":
        return Shown(f"{round(number):,}")
    if spec == "duration":
        return Shown(human_duration(abs(number)))
    return Shown(display(value))


def _number(value: object) -> float | None:
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _money(amount: float, code: str) -> str:
    decimals = _DECIMALS.get(code, 2)
    digits = f"{abs(amount):,.{decimals}f}"
    sign = "-" if amount < 0 and float(digits.replace(",", "")) != 0 else ""
    symbol = _SYMBOLS.get(code)
    return f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {code}"


def _moment(value: object) -> Shown:
    at: datetime | None = None
    number = _number(value) if not isinstance(value, str) else None
    if number is not None:
        try:
            at = datetime.fromtimestamp(number, UTC)
        except (OverflowError, OSError, ValueError):
            at = None
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            at = None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # a time without a zone is taken as UTC
    if at is None:
        return Shown(display(value))
    return Shown(at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"), at=int(at.timestamp()))
