"""Field formats: money with thousands separators, shares, integers, moments, durations."""

from __future__ import annotations

import pytest

from bot.review.field_format import Shown, formatted


@pytest.mark.parametrize(
    ("value", "spec", "expected"),
    [
        (1504.93, "currency:EUR", "€1,504.93"),
        (-1234567.5, "currency:USD", "-$1,234,567.50"),
        ("1504.9", "currency:EUR", "€1,504.90"),
        (1500, "currency:JPY", "¥1,500"),
        (99.5, "currency:CHF", "99.50 CHF"),
        (-0.001, "currency:EUR", "€0.00"),
        (0.125, "percent", "12.5%"),
        (0.5, "percent", "50%"),
        (12345.6, "integer", "12,346"),
        (150, "duration", "2 min"),
        (90000, "duration", "1 d"),
        ("not a number", "currency:EUR", "not a number"),  # shown as sent, never dropped
        (True, "integer", "true"),
        (None, "percent", "—"),
        (3.14159265358979, None, "3.141592654"),
    ],
)
def test_formats(value: object, spec: str | None, expected: str) -> None:
    assert formatted(value, spec) == Shown(expected)


def test_datetime_is_a_moment_each_reader_sees_in_their_zone() -> None:
    assert formatted(1714564800, "datetime") == Shown("2024-05-01 12:00 UTC", at=1714564800)
    assert formatted("2024-05-01T14:00:00+02:00", "datetime").at == 1714564800
    assert formatted("2024-05-01 12:00", "datetime").at == 1714564800  # no zone: UTC
    assert formatted("yesterday", "datetime") == Shown("yesterday")
