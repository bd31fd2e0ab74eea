"""Masking: what is a card number, an e-mail address, a phone number, and what is not."""

from __future__ import annotations

import pytest

from bot.masking import Masking, luhn_ok, mask_patterns, mask_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111111111111111 declined", "card ••••1111 declined"),
        ("4111 1111 1111 1111", "••••1111"),
        ("4111-1111-1111-1111.", "••••1111."),
        ("amex 378282246310005", "amex ••••0005"),  # 15 digits
        ("5555555555554444/12", "••••4444/12"),
        # a 16-digit order id that fails the Luhn check stays
        ("order 1234567812345678", "order 1234567812345678"),
        # too short or too long to be a card number
        ("411111111111", "411111111111"),
        ("41111111111111111111", "41111111111111111111"),
        # two cards in one text
        ("4111111111111111 then 5555 5555 5555 4444", "••••1111 then ••••4444"),
        ("jane.doe+fraud@example.co.uk wrote", "••••@example.co.uk wrote"),
        ("mail me: <bob@acme.io>", "mail me: <••••@acme.io>"),
        ("call +33 6 12 34 56 78 now", "call ••••78 now"),
        ("+1 (555) 123-4567", "••••67"),
        ("(555) 123-4567", "••••67"),
        ("555-123-4567 or 555.987.6543", "••••67 or ••••43"),
        ("06 12 34 56 78", "••••78"),
        ("020 7946 0958", "••••58"),
        # not phone numbers: dates, times, amounts, ids, versions
        ("on 2024-05-01 at 10:30:45", "on 2024-05-01 at 10:30:45"),
        ("paid 1,504.93 EUR, ref 20240501123", "paid 1,504.93 EUR, ref 20240501123"),
        ("v1.2.3 build 5551234567", "v1.2.3 build 5551234567"),
        ("IP 192.168.100.200", "IP 192.168.100.200"),
        ("", ""),
    ],
)
def test_mask_patterns(text: str, expected: str) -> None:
    assert mask_patterns(text) == expected


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112") and not luhn_ok("41x1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123456789", "••••6789"),
        ("4111 1111 1111 1111", "••••1111"),
        ("FR76 3000 6000 0112 3456 7890 189", "••••0189"),
        ("12345678", "••••"),  # short values are hidden whole: four would give half away
        ("", "••••"),
    ],
)
def test_mask_value(value: str, expected: str) -> None:
    assert mask_value(value) == expected


def test_masking_of_a_queue() -> None:
    masking = Masking.of(["iban"], mask_patterns=True)
    assert masking.value("iban", "DE89370400440532013000") == "••••3000"
    assert masking.value("note", "jane@example.com") == "••••@example.com"
    off = Masking.of([], mask_patterns=False)
    assert off.text("jane@example.com") == "jane@example.com"
